#include "qoda/comm/Env.h"

#include <gtest/gtest.h>

using namespace qoda::comm;
using Env = std::map<std::string, std::string>;

static Env good() {
  return {{"MASTER_ADDR", "127.0.0.1"},
          {"MASTER_PORT", "29500"},
          {"RANK", "1"},
          {"WORLD_SIZE", "4"}};
}

static std::string errorOf(const Env &e) {
  try {
    rendezvousFromEnv(e);
  } catch (const std::invalid_argument &ex) {
    return ex.what();
  }
  return "";
}

TEST(RendezvousEnv, Parses) {
  Env e = good();
  e["QODA_COMM_TIMEOUT"] = "2.5";
  RendezvousConfig c = rendezvousFromEnv(e);
  EXPECT_EQ(c.masterAddr, "127.0.0.1");
  EXPECT_EQ(c.port, 29500);
  EXPECT_EQ(c.rank, 1);
  EXPECT_EQ(c.worldSize, 4);
  EXPECT_EQ(c.localAddr, "127.0.0.1");
  EXPECT_EQ(c.timeout.count(), 2500);
  e["MASTER_ADDR"] = "localhost";
  EXPECT_EQ(rendezvousFromEnv(e).masterAddr, "127.0.0.1");
}

TEST(RendezvousEnv, BadValues) {
  for (const char *v : {"RANK", "WORLD_SIZE", "MASTER_PORT", "MASTER_ADDR"}) {
    Env e = good();
    e.erase(v);
    EXPECT_NE(errorOf(e).find(std::string(v) + " is not set"),
              std::string::npos)
        << v;
  }
  Env e = good();
  e["RANK"] = "4";
  EXPECT_NE(errorOf(e).find("RANK='4'"), std::string::npos);
  e = good();
  e["RANK"] = "-1";
  EXPECT_NE(errorOf(e).find("RANK='-1'"), std::string::npos);
  e = good();
  e["WORLD_SIZE"] = "4x";
  EXPECT_NE(errorOf(e).find("WORLD_SIZE='4x'"), std::string::npos);
  e = good();
  e["MASTER_PORT"] = "99999";
  EXPECT_NE(errorOf(e).find("MASTER_PORT='99999'"), std::string::npos);
  e = good();
  e["MASTER_ADDR"] = "not-an-ip";
  EXPECT_NE(errorOf(e).find("not an IPv4"), std::string::npos);
  e = good();
  e["MASTER_ADDR"] = "10.1.2.3";
  EXPECT_NE(errorOf(e).find("QODA_LOCAL_ADDR"), std::string::npos);
  e["QODA_LOCAL_ADDR"] = "10.1.2.4";
  EXPECT_EQ(rendezvousFromEnv(e).localAddr, "10.1.2.4");
  e = good();
  e["QODA_COMM_TIMEOUT"] = "0";
  EXPECT_NE(errorOf(e).find("QODA_COMM_TIMEOUT"), std::string::npos);
}
