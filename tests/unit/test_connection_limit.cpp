#include "tcp_server/connection_limit.hpp"

#include <gtest/gtest.h>

namespace tcp_server {
namespace {

// Roomy values for every limit, so each case makes one of them the lowest.
SystemLimits roomy() {
  SystemLimits limits;
  limits.open_files = 1'000'000;
  limits.user_processes = 1'000'000;
  limits.process_threads = 3;
  limits.threads_max = 2'000'000;
  limits.pid_max = 4'000'000;
  limits.max_map_count = 4'000'000;
  limits.process_mappings = 100;
  limits.cgroup_pids_max = 1'000'000;
  limits.cgroup_pids_current = 10;
  return limits;
}

TEST(ConnectionCeiling, OpenFilesBoundItLessTheReservedFds) {
  SystemLimits limits = roomy();
  limits.open_files = 1024;
  const ConnectionCeiling ceiling = connection_ceiling(limits);
  EXPECT_EQ(ceiling.limit, 1024u - 32u);
  EXPECT_EQ(ceiling.bounded_by, "open files");
}

TEST(ConnectionCeiling, AVeryLowFdLimitStillLeavesHalfOfIt) {
  SystemLimits limits = roomy();
  limits.open_files = 40;
  EXPECT_EQ(connection_ceiling(limits).limit, 20u);
  limits.open_files = 1;
  EXPECT_EQ(connection_ceiling(limits).limit, 1u);
}

TEST(ConnectionCeiling, PidMaxBoundsItAtHalfTheMachinesPidsLessOwnThreads) {
  SystemLimits limits = roomy();
  limits.pid_max = 32768;
  const ConnectionCeiling ceiling = connection_ceiling(limits);
  EXPECT_EQ(ceiling.limit, 32768u / 2 - 128u);
  EXPECT_EQ(ceiling.bounded_by, "kernel.pid_max");
}

TEST(ConnectionCeiling, ThreadsMaxBoundsItAtHalfTheMachinesThreads) {
  SystemLimits limits = roomy();
  limits.threads_max = 20000;
  const ConnectionCeiling ceiling = connection_ceiling(limits);
  EXPECT_EQ(ceiling.limit, 20000u / 2 - 128u);
  EXPECT_EQ(ceiling.bounded_by, "kernel.threads-max");
}

TEST(ConnectionCeiling, MaxMapCountBoundsItAtTwoMappingsPerThread) {
  SystemLimits limits = roomy();
  limits.max_map_count = 65530;
  limits.process_mappings = 530;
  const ConnectionCeiling ceiling = connection_ceiling(limits);
  EXPECT_EQ(ceiling.limit, (65530u - 530u) / 2 - 128u);
  EXPECT_EQ(ceiling.bounded_by, "vm.max_map_count");
}

TEST(ConnectionCeiling, RlimitNprocBoundsItLessTheThreadsInUse) {
  SystemLimits limits = roomy();
  limits.user_processes = 4096;
  limits.process_threads = 6;
  const ConnectionCeiling ceiling = connection_ceiling(limits);
  EXPECT_EQ(ceiling.limit, 4096u - 6u - 128u);
  EXPECT_EQ(ceiling.bounded_by, "RLIMIT_NPROC");
}

TEST(ConnectionCeiling, RlimitNprocDoesNotBindWhenAbsentAsForRoot) {
  SystemLimits limits = roomy();
  limits.user_processes.reset();
  limits.open_files = 5000;
  EXPECT_EQ(connection_ceiling(limits).bounded_by, "open files");
}

TEST(ConnectionCeiling, CgroupPidsMaxBoundsItLessThePidsInUse) {
  SystemLimits limits = roomy();
  limits.cgroup_pids_max = 10000;
  limits.cgroup_pids_current = 40;
  const ConnectionCeiling ceiling = connection_ceiling(limits);
  EXPECT_EQ(ceiling.limit, 10000u - 40u - 128u);
  EXPECT_EQ(ceiling.bounded_by, "pids.max");
}

TEST(ConnectionCeiling, ASmallBoundKeepsBackAQuarterInsteadOf128) {
  SystemLimits limits = roomy();
  limits.cgroup_pids_max = 100;
  limits.cgroup_pids_current = 20;
  EXPECT_EQ(connection_ceiling(limits).limit, 80u - 20u);
}

TEST(ConnectionCeiling, AnExhaustedBoundStillAllowsOneConnection) {
  SystemLimits limits = roomy();
  limits.cgroup_pids_max = 50;
  limits.cgroup_pids_current = 60;  // pids.max lowered below what is running
  const ConnectionCeiling ceiling = connection_ceiling(limits);
  EXPECT_EQ(ceiling.limit, 1u);
  EXPECT_EQ(ceiling.bounded_by, "pids.max");
}

TEST(ConnectionCeiling, NoKnownLimitGivesALargeDefault) {
  const ConnectionCeiling ceiling = connection_ceiling(SystemLimits{});
  EXPECT_EQ(ceiling.limit, std::size_t{1} << 20);
  EXPECT_EQ(ceiling.bounded_by, "no system limit");
}

TEST(ProbeSystemLimits, ReadsSaneValuesFromThisSystem) {
  const SystemLimits limits = probe_system_limits();
  ASSERT_TRUE(limits.open_files.has_value());
  EXPECT_GT(*limits.open_files, 0u);
  EXPECT_GE(limits.process_threads, 1u);
  if (limits.pid_max) {
    EXPECT_GE(*limits.pid_max, 301u);  // the kernel's minimum
  }
  const ConnectionCeiling ceiling = connection_ceiling(limits);
  EXPECT_GE(ceiling.limit, 1u);
  EXPECT_FALSE(ceiling.bounded_by.empty());
}

}  // namespace
}  // namespace tcp_server
