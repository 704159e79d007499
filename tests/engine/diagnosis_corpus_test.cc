// The diagnosis corpus: loss curves labelled with the verdict and step a person gives them
// looking at the plot (log scale), and the reason. Real curves are descentd runs over the
// builtin datasets recorded by tests/data/record_loss_curves.py into tests/data/loss_curves.txt;
// synthetic ones are the shapes real runs rarely show cleanly. Every curve must get its
// label's verdict and a step in its label's range, and every loss the message quotes must be
// a number the user can find on the curve.
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/diagnosis.h"
#include "gtest/gtest.h"

namespace descent {
namespace {

struct Curve {
  std::string name;
  double learning_rate = 0.0;
  std::vector<double> steps;  // step 1 first
  struct Epoch {
    int64_t last_step;
    double loss;
  };
  std::vector<Epoch> epochs;
};

// The steps a person would accept for a verdict's step: 0..0 for "no step", the run's last
// step for LEARNING.
struct Steps {
  int64_t min;
  int64_t max;
};

// What a person says about a curve; for a curve that could be read either way, the other
// reading too. A known miss is a curve the rules get wrong, with the reason; it is scored
// and printed but not asserted.
struct Label {
  Verdict verdict;
  Steps steps;
  std::optional<Verdict> or_verdict = std::nullopt;
  Steps or_steps = {0, 0};
  std::string known_miss = "";
};

double ParseNumber(const std::string& text) {
  return std::strtod(text.c_str(), nullptr);  // also reads "nan" and "inf"
}

std::vector<Curve> LoadRecordedCurves() {
  std::ifstream in(std::string(DESCENT_SOURCE_DIR) + "/tests/data/loss_curves.txt");
  EXPECT_TRUE(in.good()) << "tests/data/loss_curves.txt is missing";
  std::vector<Curve> curves;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string key, value;
    fields >> key;
    if (key == "curve") {
      curves.push_back({});
      fields >> curves.back().name;
      continue;
    }
    EXPECT_FALSE(curves.empty()) << line.substr(0, 40);
    if (curves.empty()) break;
    Curve& curve = curves.back();
    while (fields >> value) {
      if (key == "learning_rate") {
        curve.learning_rate = ParseNumber(value);
      } else if (key == "steps") {
        curve.steps.push_back(ParseNumber(value));
      } else if (key == "epochs") {
        const size_t colon = value.find(':');
        EXPECT_NE(colon, std::string::npos) << value;
        curve.epochs.push_back({static_cast<int64_t>(ParseNumber(value.substr(0, colon))),
                                ParseNumber(value.substr(colon + 1))});
      }
    }
  }
  return curves;
}

// A deterministic wobble in [-1, 1], like minibatch noise.
double Wobble(int64_t i) { return std::sin(static_cast<double>(i) * 2.399963); }

// A synthetic run of `epochs` x `steps_per_epoch` steps whose step losses are
// level(epoch progress in [0, 1)) times (1 + noise * wobble); epoch means as the trainer
// computes them.
Curve Synthetic(std::string name, int epochs, int steps_per_epoch, double noise,
                const std::function<double(double)>& level, double learning_rate = 0.01) {
  Curve curve;
  curve.name = std::move(name);
  curve.learning_rate = learning_rate;
  const int64_t total = static_cast<int64_t>(epochs) * steps_per_epoch;
  for (int e = 0; e < epochs; ++e) {
    double sum = 0.0;
    for (int i = 0; i < steps_per_epoch; ++i) {
      const int64_t step = static_cast<int64_t>(e) * steps_per_epoch + i + 1;
      const double t = static_cast<double>(step - 1) / static_cast<double>(total);
      const double loss = level(t) * (1.0 + noise * Wobble(step));
      curve.steps.push_back(loss);
      sum += loss;
    }
    curve.epochs.push_back({static_cast<int64_t>(e + 1) * steps_per_epoch, sum / steps_per_epoch});
  }
  return curve;
}

Diagnosis Diagnose(const Curve& curve) {
  DiagnosisTracker tracker(curve.learning_rate);
  size_t next_epoch = 0;
  for (size_t i = 0; i < curve.steps.size(); ++i) {
    const int64_t step = static_cast<int64_t>(i) + 1;
    tracker.ObserveStep(step, curve.steps[i]);
    if (next_epoch < curve.epochs.size() && curve.epochs[next_epoch].last_step == step) {
      tracker.ObserveEpoch(static_cast<int>(next_epoch) + 1, step, curve.epochs[next_epoch].loss);
      ++next_epoch;
    }
  }
  return tracker.Current();
}

// The numbers a user can find for a curve read by epochs: its epoch means, step 1's loss and
// the loss at the verdict's step, as the message prints them (4 significant digits).
bool Findable(const Curve& curve, int64_t step, const std::string& printed) {
  const auto same = [&](double v) { return absl::StrFormat("%.4g", v) == printed; };
  if (same(curve.steps.at(0))) return true;
  if (step >= 1 && step <= static_cast<int64_t>(curve.steps.size()) &&
      same(curve.steps[static_cast<size_t>(step - 1)])) {
    return true;
  }
  for (const Curve::Epoch& e : curve.epochs) {
    if (same(e.loss)) return true;
  }
  return false;
}

bool PrecededBy(const std::string& message, size_t pos, std::string_view text) {
  return pos >= text.size() && message.compare(pos - text.size(), text.size(), text) == 0;
}

// The decimal numbers in `message` that are losses: not integers (steps, epochs),
// percentages, factors, or the learning rates of the advice.
std::vector<std::string> QuotedLosses(const std::string& message) {
  std::vector<std::string> losses;
  size_t i = 0;
  while (i < message.size()) {
    const bool starts_number = std::isdigit(static_cast<unsigned char>(message[i])) &&
                               (i == 0 || !std::isalnum(static_cast<unsigned char>(message[i - 1])));
    if (!starts_number) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < message.size() &&
           (std::isdigit(static_cast<unsigned char>(message[end])) || message[end] == '.' ||
            message[end] == 'e' || message[end] == '-' || message[end] == '+')) {
      ++end;
    }
    std::string token = message.substr(i, end - i);
    while (!token.empty() && !std::isdigit(static_cast<unsigned char>(token.back()))) {
      token.pop_back();
    }
    const bool integer = token.find_first_of(".e") == std::string::npos;
    const bool not_a_loss = (end < message.size() && message[end] == '%') ||
                            PrecededBy(message, i, "learning rate (") ||
                            PrecededBy(message, i, "try ") || PrecededBy(message, i, "factor of ") ||
                            message.compare(end, 6, " times") == 0;
    if (!integer && !not_a_loss) losses.push_back(token);
    i = end;
  }
  return losses;
}

int64_t LastStep(const Curve& curve) { return static_cast<int64_t>(curve.steps.size()); }

struct Scored {
  int verdicts = 0;
  int steps = 0;
  int total = 0;
};

bool Agrees(const Diagnosis& d, const Verdict verdict, const Steps& steps) {
  return d.verdict == verdict && d.step >= steps.min && d.step <= steps.max;
}

// Checks one curve against its label; counts agreement into `score`.
void Check(const Curve& curve, const Label& label, Scored& score) {
  SCOPED_TRACE(curve.name);
  const Diagnosis d = Diagnose(curve);
  ++score.total;
  const bool verdict_ok =
      d.verdict == label.verdict || (label.or_verdict && d.verdict == *label.or_verdict);
  const bool step_ok = Agrees(d, label.verdict, label.steps) ||
                       (label.or_verdict && Agrees(d, *label.or_verdict, label.or_steps));
  score.verdicts += verdict_ok;
  score.steps += step_ok;
  std::printf("corpus %-34s %-9s step %-5lld %s%s\n", curve.name.c_str(),
              std::string(VerdictName(d.verdict)).c_str(), static_cast<long long>(d.step),
              step_ok ? "" : "[MISS] ", d.message.c_str());
  if (label.known_miss.empty()) {
    EXPECT_TRUE(step_ok) << VerdictName(d.verdict) << " at step " << d.step << ", a person says "
                         << VerdictName(label.verdict) << " at " << label.steps.min << ".."
                         << label.steps.max << ": " << d.message;
  }
  if (curve.epochs.size() < 8) return;  // read from step losses, averaged over the steps named
  for (const std::string& loss : QuotedLosses(d.message)) {
    EXPECT_TRUE(Findable(curve, d.step, loss))
        << loss << " is no epoch's mean, nor step 1's or step " << d.step << "'s loss: " << d.message;
  }
  if (d.verdict != Verdict::kDiverged || d.step == LastStep(curve)) {
    EXPECT_NE(d.message.find("epoch-mean train loss"), std::string::npos) << d.message;
  }
}

Steps Exactly(int64_t step) { return {step, step}; }

// A synthetic run of 40 epochs of 25 steps (t = step / 1000).
Curve Forty(std::string name, double noise, const std::function<double(double)>& level) {
  return Synthetic(std::move(name), 40, 25, noise, level);
}

// Epoch e of 40 (0-based) for t in [0, 1).
int EpochOf(double t) { return static_cast<int>(t * 40.0); }

TEST(DiagnosisCorpusTest, EveryCurveGetsTheVerdictAndStepAPersonGivesIt) {
  std::map<std::string, Curve> recorded;
  for (Curve& curve : LoadRecordedCurves()) recorded[curve.name] = std::move(curve);
  Scored score;
  // A recorded curve, labelled from its epoch means (tests/data/loss_curves.txt).
  const auto real = [&](const std::string& name, const auto& make_label) {
    auto it = recorded.find(name);
    ASSERT_NE(it, recorded.end()) << name << " is not in tests/data/loss_curves.txt";
    Check(it->second, make_label(it->second), score);
  };
  // The last steps of epochs first..last.
  const auto epochs = [](Verdict verdict, int first, int last) {
    return [=](const Curve& c) {
      return Label{verdict, {c.epochs.at(first - 1).last_step, c.epochs.at(last - 1).last_step}};
    };
  };
  const auto at_end = [](Verdict verdict) {
    return [=](const Curve& c) { return Label{verdict, Exactly(LastStep(c))}; };
  };
  const auto no_step = [](Verdict verdict) {
    return [=](const Curve&) { return Label{verdict, Exactly(0)}; };
  };
  const auto at_step = [](Verdict verdict, int64_t step) {
    return [=](const Curve&) { return Label{verdict, Exactly(step)}; };
  };

  // --- Real runs ---------------------------------------------------------------------------
  // Adam 0.001, 30 epochs: 6.85 in epoch 1 to 0.367 in epoch 23 and 0.338 in epoch 30, still
  // going down 8% over the last quarter.
  real("house-prices", at_end(Verdict::kLearning));
  // 0.669 to 0.269 by epoch 7, then 0.262 to 0.240 over 13 epochs: level from epoch 6-10.
  real("spam", epochs(Verdict::kConverged, 6, 10));
  // 0.653, 0.366, 0.296, 0.274 in epoch 4, then a slow settle to 0.224: level from 4-9.
  real("cat-dog-bird", epochs(Verdict::kConverged, 4, 9));
  // SGD 0.003: noisy, but 0.54 in epoch 15 and 0.42-0.45 in epochs 26-30: still falling.
  real("lr-just-right", at_end(Verdict::kLearning));
  // 10.19 at step 1, 1,563 at step 2: exploded.
  real("lr-too-high", at_step(Verdict::kDiverged, 2));
  // 15.8 to 15.2 in 30 epochs, a little every epoch: crawling, nothing happens at any step.
  real("lr-too-low", no_step(Verdict::kStalled));
  // SGD 0.01: 4.3 to ~1.5 by epoch 5, swinging 1.1-2.2 until epoch 13, then 0.5-1.5 from
  // epoch 14 on with no trend: a noisy plateau from about epoch 11-16.
  real("house-sgd-0.01", epochs(Verdict::kConverged, 11, 16));
  // SGD 0.03: 30 in epoch 1, down to ~1.3 by epoch 16, then swings 0.86-2.4 with no trend.
  real("house-sgd-0.03", epochs(Verdict::kConverged, 13, 25));
  // SGD 1e-5: 16.1 to 5.74, a steady 3-4% every epoch to the end.
  real("house-sgd-1e-5", at_end(Verdict::kLearning));
  // SGD with momentum: 0.33 in epoch 23 to 0.29 in epoch 30, still falling.
  real("house-sgd-momentum-0.001", at_end(Verdict::kLearning));
  // Adam 0.01: ~0.34 in epochs 8-15, ~0.26 from about epoch 19, level after that.
  real("house-adam-0.01", epochs(Verdict::kConverged, 15, 23));
  // Adam 0.3: 17 at step 1, 9,729 at step 2.
  real("house-adam-0.3", at_step(Verdict::kDiverged, 2));
  // RMSprop 0.001: 0.416 in epoch 24 to 0.359 in epoch 30: still falling.
  real("house-rmsprop-0.001", at_end(Verdict::kLearning));
  // Adagrad 0.05: 0.318 in epoch 23 to 0.304 in epoch 30, a creep of about 5%: either
  // still learning or level since about epoch 14.
  real("house-adagrad-0.05", [](const Curve& c) {
    return Label{Verdict::kLearning, Exactly(LastStep(c)), Verdict::kConverged,
                 {c.epochs.at(13).last_step, c.epochs.at(22).last_step}};
  });
  // 3 epochs: epoch means 6.85, 2.55, 1.68, still falling a third per epoch.
  real("house-adam-3-epochs", [](const Curve& c) {
    Label label{Verdict::kLearning, Exactly(LastStep(c))};
    label.known_miss =
        "with 3 epochs the rules read step losses, and those of the last quarter are minibatch "
        "noise (0.7 to 8.8) with no visible trend; the fall shows only in the epoch means";
    return label;
  });
  // SGD 0.01 with the rate cut tenfold at step 300 (epoch 15): the noise stops, 0.571 in
  // epoch 16, 0.48 in epoch 17, then level to 0.437.
  real("house-sgd-step-schedule", epochs(Verdict::kConverged, 16, 19));
  // SGD 0.01 on spam: 0.697 to 0.406, accelerating: learning.
  real("spam-sgd-0.01", at_end(Verdict::kLearning));
  // SGD 1: 0.48, 0.31, 0.26, then 0.19-0.25 with a slight downward drift: a noisy level
  // from about epoch 3-9, or still learning slowly.
  real("spam-sgd-1", [](const Curve& c) {
    return Label{Verdict::kConverged, {c.epochs.at(2).last_step, c.epochs.at(8).last_step},
                 Verdict::kLearning, Exactly(LastStep(c))};
  });
  // Adam 0.05: 0.361, 0.269, 0.234, 0.226 in epoch 4, then 0.20-0.23.
  real("spam-adam-0.05", epochs(Verdict::kConverged, 3, 6));
  // Adagrad 0.01: 0.641 to 0.293 by epoch 10, then 0.285 to 0.252 in a slowing creep.
  real("spam-adagrad-0.01", epochs(Verdict::kConverged, 10, 15));
  // SGD 0.01: 0.814 to 0.327 by epoch 9, then 0.32 to 0.287 over 16 epochs.
  real("cdb-sgd-0.01", epochs(Verdict::kConverged, 7, 12));
  // Adam 0.03: 0.596, 0.359, 0.289 in epoch 3, then a noisy 0.24-0.30.
  real("cdb-adam-0.03", epochs(Verdict::kConverged, 2, 6));
  // SGD 1e-5: 1.14 to 1.07 at a steady crawl.
  real("cdb-sgd-1e-5", no_step(Verdict::kStalled));
  // RMSprop 0.1: 1.17 at step 1, 474 at step 2.
  real("cdb-rmsprop-0.1", at_step(Verdict::kDiverged, 2));
  // Adam 0.01 on moons: 0.52 to 0.081, still 0.089 to 0.081 over the last quarter.
  real("moons-adam-0.01", at_end(Verdict::kLearning));
  // SGD 0.1 on moons: 0.55 to 0.30 by epoch 10, then 0.30 to 0.266 over 30 epochs.
  real("moons-sgd-0.1", epochs(Verdict::kConverged, 10, 16));
  // Adam on spirals: a plateau near 0.7 for 7 epochs, then a fall to 0.026 that goes on.
  real("spirals-adam-0.003", at_end(Verdict::kLearning));
  // SGD 1e-4 on spirals: 1.10 to 1.09 in 30 epochs: flat from the start.
  real("spirals-sgd-0.0001", no_step(Verdict::kStalled));
  // Adam on blobs: 0.299, 0.028, 0.010, ... 0.00105, still halving every few epochs: on a
  // log scale a straight fall.
  real("blobs-adam-0.01", at_end(Verdict::kLearning));
  // One epoch of 200 steps: minibatch losses still falling steeply at the end.
  real("house-adam-1-epoch-batch-8", at_end(Verdict::kLearning));

  // --- Synthetic shapes (40 epochs of 25 steps unless said) --------------------------------
  // 0.05 + 2 exp(-10 t): within 15% of the floor from t = 0.56 (epoch 23); a person puts
  // the bend into level at epochs 20-26.
  Check(Forty("exponential decay to a floor", 0.1,
              [](double t) { return 0.05 + 2.0 * std::exp(-10.0 * t); }),
        {Verdict::kConverged, {500, 650}}, score);
  // Flat at 1 for 16 epochs, then down to 0.1 within ~5 epochs, then level: converged at
  // the bottom of the drop, epochs 19-23.
  Check(Forty("plateau then drop", 0.05,
              [](double t) { return t < 0.4 ? 1.0 : 0.1 + 0.9 * std::exp(-40.0 * (t - 0.4)); }),
        {Verdict::kConverged, {475, 575}}, score);
  // Flat at 1, then dropping from epoch 32 to the end: it has just started learning.
  Check(Forty("plateau then a late drop", 0.05,
              [](double t) { return t < 0.8 ? 1.0 : std::exp(-15.0 * (t - 0.8)); }),
        {Verdict::kLearning, Exactly(1000)}, score);
  // exp(-3 t): a straight line on a log plot, falling 53% per quarter to the end.
  Check(Forty("steady fall", 0.05, [](double t) { return std::exp(-3.0 * t); }),
        {Verdict::kLearning, Exactly(1000)}, score);
  // 5 to 4.5 in a straight line: crawling, no step to name.
  Check(Forty("slow steady crawl", 0.05, [](double t) { return 5.0 * (1.0 - 0.1 * t); }),
        {Verdict::kStalled, Exactly(0)}, score);
  // Epoch means jumping +-15% around 5 with no trend: flat from the start.
  Check(Forty("noisy flat", 0.3,
              [](double t) { return 5.0 * (1.0 + 0.15 * Wobble(EpochOf(t) + 7)); }),
        {Verdict::kStalled, Exactly(0)}, score);
  {
    // Momentum-like: 0.1 + exp(-6 t) (1 + 0.6 cos(12 pi t)): swings that die down, within
    // 15% of the floor from about t = 0.6 (epoch 24); the last quarter wiggles +-4% around
    // 0.105 with no trend.
    Label label{Verdict::kConverged, {550, 700}};
    label.known_miss =
        "the last quarter holds 1.5 slow wiggles (a period of 7 epochs), which the running "
        "median follows rather than treats as noise; their phase tilts the fitted slope to a "
        "6% fall per quarter";
    Check(Forty("damped oscillation", 0.05,
                [](double t) {
                  return 0.1 + std::exp(-6.0 * t) * (1.0 + 0.6 * std::cos(12.0 * M_PI * t));
                }),
          label, score);
  }
  // Epoch means alternating 3 and 1 for the whole run: a learning rate too high to make
  // progress. The rules have no "bouncing" reading: they see a level curve.
  {
    Label label{Verdict::kDiverged, {0, 1000}};
    label.known_miss =
        "an undamped bounce between two levels reads as level to the running median; no "
        "rule names a bounce that never grows";
    Check(Forty("undamped bounce", 0.02,
                [](double t) { return EpochOf(t) % 2 == 0 ? 3.0 : 1.0; }),
          label, score);
  }
  // The exponential decay with epoch 30 twenty times higher, then back: the spike is a
  // blip; converged where the plain decay converges.
  Check(Forty("spike then recovery", 0.1,
              [](double t) {
                return (0.05 + 2.0 * std::exp(-10.0 * t)) * (EpochOf(t) == 29 ? 20.0 : 1.0);
              }),
        {Verdict::kConverged, {500, 650}}, score);
  // 1 to 0.5 in epochs 4-8, level, then 0.5 to 0.05 in epochs 24-28, level: converged at
  // the second bend.
  Check(Forty("two plateaus", 0.05,
              [](double t) {
                const double first = 0.5 + 0.5 / (1.0 + std::exp((t - 0.15) * 80.0));
                return first * (0.1 + 0.9 / (1.0 + std::exp((t - 0.65) * 80.0)));
              }),
        {Verdict::kConverged, {675, 800}}, score);
  // Level at 1 for half the run, then falling steadily to the end.
  Check(Forty("slow start, then learning", 0.05,
              [](double t) { return t < 0.5 ? 1.0 : std::exp(-4.0 * (t - 0.5)); }),
        {Verdict::kLearning, Exactly(1000)}, score);
  // 1 to 0.7 (a 30% fall) within ~5 epochs, then level: stalled where it flattened.
  Check(Forty("small fall then level", 0.02,
              [](double t) { return 0.7 + 0.3 * std::exp(-20.0 * t); }),
        {Verdict::kStalled, {100, 200}}, score);
  // 1 + 2 t: rising through the run, ending at three times its start.
  Check(Forty("rising", 0.05, [](double t) { return 1.0 + 2.0 * t; }),
        {Verdict::kDiverged, Exactly(1000)}, score);
  // From 0.7 to 0.01 in 4 epochs, then halving every 35% of the run: tiny, still falling.
  Check(Forty("tiny but still falling", 0.02,
              [](double t) {
                return t < 0.1 ? 0.7 - 6.9 * t : 0.01 * std::exp(-2.0 * (t - 0.1));
              }),
        {Verdict::kLearning, Exactly(1000)}, score);
  {
    // The decay with a NaN at step 700: diverged there.
    Curve curve = Forty("NaN mid-run", 0.1, [](double t) { return 0.05 + 2.0 * std::exp(-10.0 * t); });
    curve.steps[699] = std::numeric_limits<double>::quiet_NaN();
    Check(curve, {Verdict::kDiverged, Exactly(700)}, score);
  }
  {
    // A loss of 2 doubling every 10 steps from step 300: over 100 times step 1's from step
    // 300 + 10 * log2(100 * 2.2 / 2), i.e. step 368.
    Curve curve = Forty("explosion", 0.1, [](double) { return 2.0; });
    for (size_t i = 300; i < curve.steps.size(); ++i) {
      curve.steps[i] = 2.0 * std::pow(2.0, static_cast<double>(i - 299) / 10.0);
    }
    Check(curve, {Verdict::kDiverged, {360, 375}}, score);
  }
  {
    // NaN from the first step: the data, not the rate.
    Curve curve = Forty("NaN at step 1", 0.0, [](double) { return 1.0; });
    for (double& loss : curve.steps) loss = std::numeric_limits<double>::quiet_NaN();
    Check(curve, {Verdict::kDiverged, Exactly(1)}, score);
  }
  // 3 epochs of 300 steps (the rules read step losses): 0.2 + 3 exp(-15 t) with 20%
  // minibatch noise, within 15% of the floor from t = 0.31 (step 276).
  Check(Synthetic("few long epochs", 3, 300, 0.2,
                  [](double t) { return 0.2 + 3.0 * std::exp(-15.0 * t); }),
        {Verdict::kConverged, {240, 340}}, score);
  // 5 steps: too early to say anything.
  Check(Synthetic("five steps", 1, 5, 0.0, [](double t) { return 1.0 - t; }),
        {Verdict::kNone, Exactly(5)}, score);

  std::printf("corpus: %d curves; the verdict agrees on %d, verdict and step on %d\n",
              score.total, score.verdicts, score.steps);
  EXPECT_GE(score.total, 30);
}

}  // namespace
}  // namespace descent
