# qoda_add_subdirectories(dir...): adds each listed sub-folder of the current
# source folder. Every folder named here is part of the build; a missing one
# is a configuration error.
macro(qoda_add_subdirectories)
  foreach(_qoda_sub ${ARGN})
    add_subdirectory(${_qoda_sub})
  endforeach()
endmacro()

# qoda_add_gtest(name sources... LINK libs... [LABELS labels...]): a gtest
# executable whose tests are discovered into ctest.
function(qoda_add_gtest name)
  cmake_parse_arguments(ARG "" "" "LINK;LABELS" ${ARGN})
  add_executable(${name} ${ARG_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${ARG_LINK} GTest::gtest GTest::gtest_main
                        Threads::Threads)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}"
                       DISCOVERY_TIMEOUT 60)
endfunction()
