#include "client/nearest_name.h"

#include "gtest/gtest.h"

namespace descent::client {
namespace {

const std::vector<std::string> kCommands = {"submit", "watch",   "get",  "list",  "cancel",
                                            "export", "predict", "plot", "health"};

TEST(NearestNameTest, TyposFindTheirCommand) {
  EXPECT_EQ(NearestName("sumbit", kCommands), "submit");  // swapped neighbours: one edit
  EXPECT_EQ(NearestName("lsit", kCommands), "list");
  EXPECT_EQ(NearestName("wach", kCommands), "watch");
  EXPECT_EQ(NearestName("Predict", kCommands), "predict");
}

TEST(NearestNameTest, NothingWhenNoNameIsClose) {
  EXPECT_EQ(NearestName("train", kCommands), "");
  EXPECT_EQ(NearestName("x", kCommands), "");
  EXPECT_EQ(NearestName("MSE", {"MEAN_SQUARED_ERROR", "BINARY_CROSS_ENTROPY"}), "");
}

TEST(NearestNameTest, CaseAndUnderscoresDoNotCount) {
  EXPECT_EQ(NameDistance("hidden_layers", "hiddenLayers"), 0);
  EXPECT_EQ(NearestName("hidden_layer", {"name", "hiddenLayers", "initialization"}),
            "hiddenLayers");
  EXPECT_EQ(NearestName("relu", {"IDENTITY", "RELU", "LEAKY_RELU"}), "RELU");
}

TEST(NearestNameTest, APrefixOfThreeOrMoreCharactersCounts) {
  EXPECT_EQ(NearestName("hidden", {"name", "hiddenLayers"}), "hiddenLayers");
  EXPECT_EQ(NearestName("hi", {"name", "hiddenLayers"}), "");
}

TEST(NearestNameTest, AHugeWordGetsNoSuggestion) {
  EXPECT_EQ(NearestName(std::string(100000, 'a'), {"name", "dataset"}), "");
}

}  // namespace
}  // namespace descent::client
