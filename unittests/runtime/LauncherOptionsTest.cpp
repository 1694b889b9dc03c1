#include "qoda/launcher/Options.h"

#include <gtest/gtest.h>

using namespace qoda::launcher;

static std::string errorOf(const std::vector<std::string> &args) {
  try {
    parseOptions(args);
  } catch (const std::invalid_argument &e) {
    return e.what();
  }
  return "";
}

TEST(LauncherOptions, Parses) {
  Options o = parseOptions({"-n", "4", "--port", "1234", "--bandwidth",
                            "100mbit", "--timeout", "2.5", "--", "a", "-n"});
  EXPECT_EQ(o.numWorkers, 4);
  EXPECT_EQ(o.port, 1234);
  EXPECT_EQ(o.bandwidthBitsPerSec, 100000000u);
  EXPECT_DOUBLE_EQ(o.timeoutSec, 2.5);
  EXPECT_EQ(o.command, (std::vector<std::string>{"a", "-n"}));
}

TEST(LauncherOptions, Errors) {
  EXPECT_NE(errorOf({"-n", "0", "--", "x"}).find("-n expects"),
            std::string::npos);
  EXPECT_NE(errorOf({"-n", "two", "--", "x"}).find("got 'two'"),
            std::string::npos);
  EXPECT_NE(errorOf({"-n", "2"}).find("missing worker command"),
            std::string::npos);
  EXPECT_NE(errorOf({"-n", "2", "--"}).find("missing worker command"),
            std::string::npos);
  EXPECT_NE(errorOf({"--", "x"}).find("missing -n"), std::string::npos);
  EXPECT_NE(errorOf({"-n", "2", "--port", "70000", "--", "x"}).find("--port"),
            std::string::npos);
  EXPECT_NE(errorOf({"-n", "2", "--bogus", "--", "x"}).find("unknown argument"),
            std::string::npos);
  EXPECT_NE(
      errorOf({"-n", "2", "--timeout", "-1", "--", "x"}).find("--timeout"),
      std::string::npos);
  EXPECT_NE(errorOf({"-n", "2", "--bandwidth", "fast", "--", "x"})
                .find("--bandwidth"),
            std::string::npos);
  EXPECT_NE(errorOf({"-n"}).find("needs a value"), std::string::npos);
}

TEST(LauncherOptions, Rates) {
  EXPECT_EQ(parseRate("1gbit"), 1000000000u);
  EXPECT_EQ(parseRate("1.5mbit"), 1500000u);
  EXPECT_EQ(parseRate("500kbit"), 500000u);
  EXPECT_EQ(parseRate("8000bit"), 8000u);
  EXPECT_THROW(parseRate("1gbps"), std::invalid_argument);
  EXPECT_THROW(parseRate("mbit"), std::invalid_argument);
  EXPECT_THROW(parseRate("10bit"), std::invalid_argument);
}
