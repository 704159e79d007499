#include "client/server_address.h"

#include "gtest/gtest.h"

namespace descent::client {
namespace {

TEST(WithDefaultPortTest, AHostAloneGetsDescentdsPort) {
  EXPECT_EQ(WithDefaultPort("localhost"), "localhost:50051");
  EXPECT_EQ(WithDefaultPort("10.0.0.7"), "10.0.0.7:50051");
  EXPECT_EQ(WithDefaultPort("descentd.internal"), "descentd.internal:50051");
}

TEST(WithDefaultPortTest, IPv6WithoutAPortIsBracketedWithOne) {
  EXPECT_EQ(WithDefaultPort("[::1]"), "[::1]:50051");
  EXPECT_EQ(WithDefaultPort("::1"), "[::1]:50051");
  EXPECT_EQ(WithDefaultPort("fe80::1"), "[fe80::1]:50051");
}

TEST(WithDefaultPortTest, AGivenPortOrTargetUriIsKept) {
  EXPECT_EQ(WithDefaultPort("localhost:7000"), "localhost:7000");
  EXPECT_EQ(WithDefaultPort("[::1]:7000"), "[::1]:7000");
  EXPECT_EQ(WithDefaultPort("dns:///descentd:7000"), "dns:///descentd:7000");
  EXPECT_EQ(WithDefaultPort("unix:/run/descentd.sock"), "unix:/run/descentd.sock");
  EXPECT_EQ(WithDefaultPort("ipv6:[::1]:7000"), "ipv6:[::1]:7000");
}

}  // namespace
}  // namespace descent::client
