#include "qoda/comm/TcpStore.h"

#include <gtest/gtest.h>

#include <fcntl.h>
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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace {
/// A listening loopback socket on a free port, as qoda-run makes one.
int listenAnywhere(int &port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
  EXPECT_EQ(listen(fd, 16), 0);
  getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}
} // namespace

// qoda-run hands rank 0 the picked port's socket (QODA_STORE_FD): the store
// serves on it, so the port is never free between the pick and the listen.
TEST(TcpStore, AdoptsTheInheritedListener) {
  int port = 0;
  int fd = listenAnywhere(port);
  setenv("QODA_STORE_FD", std::to_string(fd).c_str(), 1);
  {
    TcpStoreServer server("127.0.0.1", port);
    // Adopted once: the variable is gone, and binding the port again fails
    // because the store really listens on that very socket.
    EXPECT_EQ(std::getenv("QODA_STORE_FD"), nullptr);
    EXPECT_THROW(TcpStoreServer("127.0.0.1", port), std::runtime_error);
    TcpStore c("127.0.0.1", port, 0, 5s);
    c.set("k", bytes("v"));
    EXPECT_EQ(c.get("k"), bytes("v"));
  }
  // The store closed the adopted socket on exit.
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);
}

TEST(TcpStore, InheritedListenerForAnotherPortIsLeftAlone) {
  int port = 0;
  int fd = listenAnywhere(port);
  setenv("QODA_STORE_FD", std::to_string(fd).c_str(), 1);
  TcpStoreServer server("127.0.0.1", 0);
  EXPECT_NE(server.port(), port);
  EXPECT_STREQ(std::getenv("QODA_STORE_FD"), std::to_string(fd).c_str());
  unsetenv("QODA_STORE_FD");
  close(fd);
}

// A descriptor that is no listening socket (closed by a process in
// between) is not used: the store binds on its own.
TEST(TcpStore, StaleStoreFdIsIgnored) {
  int fd = open("/dev/null", O_RDONLY);
  for (std::string stale : {std::to_string(fd), std::string("999999")}) {
    setenv("QODA_STORE_FD", stale.c_str(), 1);
    TcpStoreServer server("127.0.0.1", 0);
    EXPECT_GT(server.port(), 0);
  }
  close(fd);
  unsetenv("QODA_STORE_FD");
}

TEST(TcpStore, BadStoreFdIsAClearError) {
  for (const char *bad : {"abc", "1", "-4"}) {
    setenv("QODA_STORE_FD", bad, 1);
    try {
      TcpStoreServer server("127.0.0.1", 29999);
      ADD_FAILURE() << "accepted QODA_STORE_FD=" << bad;
    } catch (const std::runtime_error &e) {
      EXPECT_NE(std::string(e.what()).find("QODA_STORE_FD='" +
                                           std::string(bad) + "'"),
                std::string::npos)
          << e.what();
    }
  }
  unsetenv("QODA_STORE_FD");
}
