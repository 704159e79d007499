// Sweeps the sweep tests share.
#ifndef DESCENT_TESTS_SERVER_SWEEP_TEST_SPECS_H_
#define DESCENT_TESTS_SERVER_SWEEP_TEST_SPECS_H_

namespace descent::server::testing {

// house_prices, 200 rows with a fifth held out: 10 steps an epoch, 30 epochs. One trial at a
// time: Adam, an SGD rate far too low to learn, Adam again (the same trajectory as the first,
// so never worse than it at a rung), another hopeless SGD rate. ASHA's first rung is at step
// 20, the second at 60, the third at 180. The rule stops the second trial at step 20 and,
// against the three trials recorded there, the fourth; the first is the best.
inline constexpr char kFourTrialAshaSweep[] = R"({
  "name": "four trials",
  "base": {
    "dataset": {"builtin": {"name": "house_prices", "samples": 200, "seed": 5}},
    "model": {"hiddenLayers": [{"units": 8}]},
    "loss": "MEAN_SQUARED_ERROR",
    "optimizer": {"adam": {"learningRate": 0.01}},
    "training": {"epochs": 30, "batchSize": 16, "seed": 3, "validationFraction": 0.2}
  },
  "parameters": [{"path": "optimizer", "values": [
    {"adam": {"learningRate": 0.01}}, {"sgd": {"learningRate": 1e-7}},
    {"adam": {"learningRate": 0.01}}, {"sgd": {"learningRate": 1e-6}}]}],
  "maxConcurrentTrials": 1,
  "earlyStopping": {"asha": {"minSteps": 20, "reductionFactor": 3}}
})";

}  // namespace descent::server::testing

#endif  // DESCENT_TESTS_SERVER_SWEEP_TEST_SPECS_H_
