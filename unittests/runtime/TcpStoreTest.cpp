#include "qoda/comm/TcpStore.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <thread>

using namespace qoda::comm;
using namespace std::chrono_literals;

static std::vector<char> bytes(const std::string &s) {
  return std::vector<char>(s.begin(), s.end());
}

TEST(TcpStore, SetGetWait) {
  TcpStoreServer server("127.0.0.1", 0);
  TcpStore a("127.0.0.1", server.port(), 0, 5s);
  TcpStore b("127.0.0.1", server.port(), 1, 5s);
  a.set("k", bytes("hello"));
  EXPECT_EQ(b.get("k"), bytes("hello"));
  // get blocks until another client sets the key.
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    a.set("late", bytes(std::string("\0x", 2)));
  });
  EXPECT_EQ(b.get("late"), bytes(std::string("\0x", 2)));
  t.join();
  b.wait({"k", "late"}, 1s);
  a.set("big", std::vector<char>(1 << 20, 'z'));
  EXPECT_EQ(b.get("big").size(), 1u << 20);
}

TEST(TcpStore, Timeouts) {
  TcpStoreServer server("127.0.0.1", 0);
  TcpStore a("127.0.0.1", server.port(), 0, 5s);
  EXPECT_THROW(a.get("missing", 200ms), std::runtime_error);
  try {
    a.wait({"x", "y"}, 200ms);
    FAIL();
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos);
  }
  a.set("x", bytes("1"));
  EXPECT_EQ(a.get("x", 200ms), bytes("1"));
}

TEST(TcpStore, NoServerIsAClearError) {
  int port;
  {
    TcpStoreServer probe("127.0.0.1", 0);
    port = probe.port();
  }
  try {
    TcpStore a("127.0.0.1", port, 3, 300ms);
    FAIL();
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("rank 3 could not reach"),
              std::string::npos);
  }
}

TEST(TcpStore, DeadRanks) {
  TcpStoreServer server("127.0.0.1", 0);
  TcpStore a("127.0.0.1", server.port(), 0, 5s);
  {
    TcpStore b("127.0.0.1", server.port(), 1, 5s); // says goodbye
  }
  EXPECT_TRUE(a.deadRanks().empty());
  // A process that connects as rank 2 and exits without a goodbye.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    new TcpStore("127.0.0.1", server.port(), 2, 5s); // never destroyed
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  std::vector<int> dead;
  for (int i = 0; i < 100 && dead.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    dead = a.deadRanks();
  }
  EXPECT_EQ(dead, std::vector<int>{2});
}
