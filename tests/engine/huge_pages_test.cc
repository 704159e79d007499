#include "engine/huge_pages.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/matrix.h"
#include "gtest/gtest.h"

namespace descent {
namespace {

// The VmFlags of the mapping that holds `address`, from /proc/self/smaps ("" if none does).
std::string VmFlagsAt(const void* address) {
  const uintptr_t target = reinterpret_cast<uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    // A mapping's header line starts "begin-end perms ..." in hex; its fields follow it.
    if (range >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= target && target < end;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line.substr(8);
  }
  return "";
}

bool Advised(const void* address) {
  std::istringstream flags(VmFlagsAt(address));
  std::string flag;
  while (flags >> flag) {
    if (flag == "hg") return true;  // MADV_HUGEPAGE
  }
  return false;
}

class HugePagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled")) {
      GTEST_SKIP() << "this kernel has no transparent huge pages";
    }
  }
};

// A point well inside a buffer of `bytes`, past any unaligned start.
const void* Middle(const float* data, size_t count) { return data + count / 2; }

TEST_F(HugePagesTest, LargeMatricesAreAdvisedWhenAllocatedCopiedAndGrown) {
  // 8 MiB: the size of a layer of the large benchmark network.
  const Matrix fresh(2048, 1024);
  EXPECT_TRUE(Advised(Middle(fresh.data(), fresh.size())));
  for (float v : {fresh(0, 0), fresh(1023, 511), fresh(2047, 1023)}) EXPECT_EQ(v, 0.0f);

  Matrix copy = fresh;
  EXPECT_TRUE(Advised(Middle(copy.data(), copy.size())));
  Matrix assigned;
  assigned = fresh;
  EXPECT_TRUE(Advised(Middle(assigned.data(), assigned.size())));
  EXPECT_EQ(assigned.rows(), 2048);

  Matrix grown(1, 1);
  grown.Resize(4096, 512);
  EXPECT_TRUE(Advised(Middle(grown.data(), grown.size())));
  EXPECT_EQ(grown.size(), 4096u * 512u);
}

TEST_F(HugePagesTest, AdvisedVectorsHoldWhatWasAskedFor) {
  const size_t count = size_t{3} << 20;  // 12 MiB of floats
  const std::vector<float> filled = internal::AdvisedVector(count, 1.5f);
  ASSERT_EQ(filled.size(), count);
  EXPECT_EQ(filled.front(), 1.5f);
  EXPECT_EQ(filled.back(), 1.5f);
  EXPECT_TRUE(Advised(Middle(filled.data(), filled.size())));

  std::vector<float> reserved = internal::AdvisedVector(count);
  EXPECT_TRUE(reserved.empty());
  EXPECT_GE(reserved.capacity(), count);
  const float* before = reserved.data();
  reserved.assign(count, -2.0f);
  EXPECT_EQ(reserved.data(), before);  // filled in the advised buffer, not a new one
  EXPECT_TRUE(Advised(Middle(reserved.data(), reserved.size())));
}

}  // namespace
}  // namespace descent
