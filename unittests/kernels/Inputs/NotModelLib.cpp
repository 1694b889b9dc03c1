// A shared library without the model-library entry points.
extern "C" int qoda_test_unrelated_function(void) { return 42; }
