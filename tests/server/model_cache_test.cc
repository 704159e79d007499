#include "server/jobs/model_cache.h"

#include <memory>

#include "gtest/gtest.h"

namespace descent::server {
namespace {

// A model whose parameters take `floats` * 4 bytes.
std::shared_ptr<const TrainedModel> ModelOf(int floats) {
  auto model = std::make_shared<TrainedModel>();
  LayerParameters layer;
  layer.bias.assign(static_cast<size_t>(floats), 0.5f);
  model->parameters.push_back(std::move(layer));
  return model;
}

TEST(ModelCacheTest, KeepsTheMostRecentlyUsedModelsWithinItsBytes) {
  ModelCache cache(/*capacity_bytes=*/400);
  cache.Add(1, ModelOf(50));  // 200 bytes
  cache.Add(2, ModelOf(50));
  EXPECT_EQ(cache.bytes(), 400);
  ASSERT_NE(cache.Find(1), nullptr);  // 1 is now the most recently used
  cache.Add(3, ModelOf(50));          // evicts 2
  EXPECT_NE(cache.Find(1), nullptr);
  EXPECT_EQ(cache.Find(2), nullptr);
  EXPECT_NE(cache.Find(3), nullptr);
  EXPECT_EQ(cache.bytes(), 400);
  cache.Add(4, ModelOf(101));  // larger than the capacity: never kept, evicts nothing
  EXPECT_EQ(cache.Find(4), nullptr);
  EXPECT_NE(cache.Find(1), nullptr);
  cache.Erase(1);
  EXPECT_EQ(cache.Find(1), nullptr);
  EXPECT_EQ(cache.bytes(), 200);
}

}  // namespace
}  // namespace descent::server
