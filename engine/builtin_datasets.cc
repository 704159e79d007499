// The builtin generators. Each one draws from its own PortableRandom stream (mt19937_64 plus
// hand-written transforms), so the same name, sample count, options and seed give the same
// bytes everywhere (given a libm with correctly rounded exp/log/sin/cos, as glibc's are).
//
// The data is meant to teach: features come in everyday units scaled to single digits (so a
// small MLP trains on them without normalisation), the target depends on them non-linearly,
// and there is honest noise (overlapping class profiles, mislabelled samples, price noise), so
// no dataset is perfectly separable and a validation split shows real generalisation.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/portable_random.h"
#include "engine/dataset.h"
#include "engine/field_error.h"

namespace descent {
namespace {

using base::DeriveSeed;
using base::PortableRandom;

constexpr int kMinSamples = 2;
constexpr int kMaxSamples = 1'000'000;
constexpr int kMaxSpiralArms = 20;
constexpr int kMaxBlobs = 100;
constexpr int kMaxBlobFeatures = 1000;

// Row-major builder: one Append per value, one row after another.
class TableBuilder {
 public:
  TableBuilder(int rows, int cols) : rows_(rows), cols_(cols) {
    values_.reserve(static_cast<size_t>(rows) * cols);
  }
  void Append(double value) { values_.push_back(static_cast<float>(value)); }
  Matrix Build() && { return Matrix(rows_, cols_, std::move(values_)); }

 private:
  int rows_;
  int cols_;
  std::vector<float> values_;
};

double Clamp(double value, double low, double high) { return std::min(std::max(value, low), high); }

// Knuth's multiplication method; fine for the small means used here (< 30).
int Poisson(PortableRandom& rng, double mean) {
  const double limit = std::exp(-mean);
  int count = -1;
  double product = 1.0;
  do {
    ++count;
    product *= rng.Uniform();
  } while (product > limit);
  return count;
}

double LogNormal(PortableRandom& rng, double median, double sigma) {
  return median * std::exp(sigma * rng.Normal());
}

// With probability `rate`, replaces `label` by a uniformly chosen different class: the
// mislabelled share every real labelled dataset has.
int MaybeMislabel(PortableRandom& rng, int label, int classes, double rate) {
  if (!rng.Bernoulli(rate)) return label;
  const int shift = 1 + static_cast<int>(rng.UniformIndex(classes - 1));
  return (label + shift) % classes;
}

double NoiseOr(const BuiltinOptions& options, double fallback) {
  return options.noise < 0 ? fallback : options.noise;
}

Matrix LabelColumn(const std::vector<int>& labels) {
  std::vector<float> values(labels.begin(), labels.end());
  return Matrix(static_cast<int>(labels.size()), 1, std::move(values));
}

// house_prices: 13 features of a house and its neighbourhood; the target is the sale price in
// $100k. Price = living area x a location-dependent price per 1000 sqft, plus amenities, minus
// age, times log-normal noise (default sigma 0.1, i.e. about +-10%).
Dataset HousePrices(const BuiltinOptions& options, PortableRandom& rng) {
  const int n = options.samples;
  const double noise = NoiseOr(options, 0.1);
  TableBuilder x(n, 13);
  TableBuilder y(n, 1);
  for (int i = 0; i < n; ++i) {
    const double area = Clamp(LogNormal(rng, 1.8, 0.35), 0.4, 6.0);  // 1000 sqft
    const double bedrooms = Clamp(std::round(1.0 + 1.1 * area + rng.Normal(0, 0.7)), 1, 7);
    const double bathrooms =
        Clamp(std::round(2.0 * (0.6 * bedrooms + rng.Normal(0, 0.4))) / 2.0, 1.0, 5.0);
    const double age = rng.Uniform(0.0, 10.0);                         // decades
    const double lot = Clamp(LogNormal(rng, 0.25, 0.6), 0.05, 5.0);    // acres
    const double distance = 0.1 + 4.0 * std::pow(rng.Uniform(), 1.5);  // 10 km from centre
    const double school = Clamp(rng.Normal(7.5 - 0.8 * distance, 1.5), 1.0, 10.0);
    const double crime = Clamp(LogNormal(rng, 4.0 * std::exp(-0.3 * distance), 0.5), 0.1, 30.0);
    const double garage = rng.Bernoulli(Clamp(0.25 + 0.15 * area, 0.0, 0.95)) ? 1.0 : 0.0;
    const double pool = rng.Bernoulli(Clamp(0.04 + 0.05 * area, 0.0, 0.6)) ? 1.0 : 0.0;
    const double floors =
        1.0 + (rng.Bernoulli(0.45) ? 1.0 : 0.0) + (rng.Bernoulli(0.08) ? 1.0 : 0.0);
    const double renovated = std::min(age, rng.Uniform(0.0, 4.0));  // decades since renovation
    const double income = Clamp(LogNormal(rng, 0.6 + 0.05 * school, 0.3), 0.2, 3.0);  // $100k

    const double location = std::exp(-0.18 * distance) * (0.75 + 0.06 * school) *
                            (1.0 - 0.012 * crime) * (0.7 + 0.5 * income);
    const double price_per_area = 2.2 * location;  // $100k per 1000 sqft
    const double condition = 1.0 - 0.025 * renovated - 0.01 * age;
    double price = area * price_per_area * condition + 0.25 * garage + 0.35 * pool +
                   0.4 * std::sqrt(lot) + 0.12 * bathrooms;
    price *= std::exp(noise * rng.Normal());

    for (double value : {area, bedrooms, bathrooms, age, lot, distance, school, crime, garage, pool,
                         floors, renovated, income}) {
      x.Append(value);
    }
    y.Append(price);
  }
  Dataset dataset;
  dataset.features = std::move(x).Build();
  dataset.targets = std::move(y).Build();
  dataset.feature_names = {"living_area_1000sqft",
                           "bedrooms",
                           "bathrooms",
                           "age_decades",
                           "lot_acres",
                           "distance_to_centre_10km",
                           "school_rating",
                           "crime_per_1000",
                           "has_garage",
                           "has_pool",
                           "floors",
                           "decades_since_renovation",
                           "median_income_100k"};
  return dataset;
}

// spam: 10 features of an e-mail; label 1 = spam (40% of messages). The class profiles
// overlap (newsletters have links and HTML, friends use exclamation marks) and a share of the
// labels is wrong (noise, default 3%).
Dataset Spam(const BuiltinOptions& options, PortableRandom& rng) {
  const int n = options.samples;
  const double noise = NoiseOr(options, 0.03);
  TableBuilder x(n, 10);
  std::vector<int> labels(n);
  for (int i = 0; i < n; ++i) {
    const bool spam = rng.Bernoulli(0.4);
    const double links = Poisson(rng, spam ? 3.5 : 1.0);
    const double exclamations = Poisson(rng, spam ? 2.5 : 0.8);
    const double capitals = Clamp(rng.Normal(spam ? 0.14 : 0.07, spam ? 0.07 : 0.04), 0.0, 1.0);
    const double words = Clamp(LogNormal(rng, spam ? 1.2 : 1.6, 0.6), 0.05, 20.0);  // hundreds
    const double attachment = rng.Bernoulli(spam ? 0.12 : 0.2) ? 1.0 : 0.0;
    const double known_sender = rng.Bernoulli(spam ? 0.06 : 0.6) ? 1.0 : 0.0;
    const double money = Poisson(rng, spam ? 1.5 : 0.25);
    const double urgency = Poisson(rng, spam ? 1.0 : 0.35);
    const double replies = Poisson(rng, spam ? 0.15 : 0.9);
    const double html = Clamp(rng.Normal(spam ? 0.6 : 0.25, 0.25), 0.0, 1.0);
    for (double value : {links, exclamations, capitals, words, attachment, known_sender, money,
                         urgency, replies, html}) {
      x.Append(value);
    }
    labels[i] = MaybeMislabel(rng, spam ? 1 : 0, 2, noise);
  }
  Dataset dataset;
  dataset.features = std::move(x).Build();
  dataset.targets = LabelColumn(labels);
  dataset.num_classes = 2;
  dataset.feature_names = {"links",          "exclamation_marks",  "capital_ratio", "words_100",
                           "has_attachment", "sender_in_contacts", "money_words",   "urgency_words",
                           "reply_depth",    "html_fraction"};
  dataset.class_names = {"ham", "spam"};
  return dataset;
}

// cat_dog_bird: 8 measurements of a pet; labels cycle cat, dog, bird. Cats and small dogs
// overlap in size; birds are easier but vary widely; a share of labels is wrong (noise,
// default 4%).
Dataset CatDogBird(const BuiltinOptions& options, PortableRandom& rng) {
  const int n = options.samples;
  const double noise = NoiseOr(options, 0.04);
  TableBuilder x(n, 8);
  std::vector<int> labels(n);
  for (int i = 0; i < n; ++i) {
    const int animal = i % 3;  // 0 cat, 1 dog, 2 bird
    double weight, height, ears, wingspan, tail, whiskers, pitch, sleep;
    switch (animal) {
      case 0:
        weight = LogNormal(rng, 4.2, 0.3);  // kg
        height = rng.Normal(2.5, 0.4);      // 10 cm at the shoulder
        ears = rng.Normal(6.0, 1.3);        // cm
        wingspan = 0.0;
        tail = rng.Normal(2.8, 0.6);  // 10 cm
        whiskers = rng.Normal(6.5, 1.8);
        pitch = rng.Normal(0.7, 0.25);  // kHz
        sleep = rng.Normal(14.0, 2.0);  // hours a day
        break;
      case 1:
        weight = LogNormal(rng, 12.0, 0.7);
        height = rng.Normal(4.5, 1.5);
        ears = rng.Normal(8.5, 3.0);
        wingspan = 0.0;
        tail = rng.Normal(3.0, 1.3);
        whiskers = rng.Normal(4.0, 1.8);
        pitch = rng.Normal(0.5, 0.25);
        sleep = rng.Normal(12.5, 2.0);
        break;
      default:
        weight = LogNormal(rng, 0.4, 1.0);
        height = rng.Normal(1.8, 1.0);
        ears = 0.0;
        wingspan = LogNormal(rng, 4.0, 0.6);  // 10 cm
        tail = rng.Normal(1.2, 0.6);
        whiskers = 0.0;
        pitch = rng.Normal(2.5, 1.2);
        sleep = rng.Normal(11.0, 2.0);
        break;
    }
    // Measurement error: even a bird's "ear length" reads a few millimetres.
    ears = std::max(0.0, ears + rng.Normal(0.0, 0.3));
    wingspan = std::max(0.0, wingspan + rng.Normal(0.0, 0.3));
    whiskers = std::max(0.0, whiskers + rng.Normal(0.0, 0.3));
    for (double value : {weight, std::max(0.2, height), ears, wingspan, std::max(0.0, tail),
                         whiskers, std::max(0.1, pitch), Clamp(sleep, 4.0, 20.0)}) {
      x.Append(value);
    }
    labels[i] = MaybeMislabel(rng, animal, 3, noise);
  }
  Dataset dataset;
  dataset.features = std::move(x).Build();
  dataset.targets = LabelColumn(labels);
  dataset.num_classes = 3;
  dataset.feature_names = {"weight_kg",       "shoulder_height_10cm", "ear_length_cm",
                           "wingspan_10cm",   "tail_length_10cm",     "whisker_length_cm",
                           "voice_pitch_khz", "sleep_hours"};
  dataset.class_names = {"cat", "dog", "bird"};
  return dataset;
}

// moons: sklearn.datasets.make_moons' geometry (upper half circle for class 0, the shifted
// lower one for class 1), classes alternating, positions drawn uniformly along the arc,
// Gaussian noise on both coordinates (default 0.2).
Dataset Moons(const BuiltinOptions& options, PortableRandom& rng) {
  const int n = options.samples;
  const double noise = NoiseOr(options, 0.2);
  TableBuilder x(n, 2);
  std::vector<int> labels(n);
  for (int i = 0; i < n; ++i) {
    const int label = i % 2;
    const double t = std::numbers::pi * rng.Uniform();
    const double px = label == 0 ? std::cos(t) : 1.0 - std::cos(t);
    const double py = label == 0 ? std::sin(t) : 0.5 - std::sin(t);
    x.Append(px + noise * rng.Normal());
    x.Append(py + noise * rng.Normal());
    labels[i] = label;
  }
  Dataset dataset;
  dataset.features = std::move(x).Build();
  dataset.targets = LabelColumn(labels);
  dataset.num_classes = 2;
  dataset.feature_names = {"x", "y"};
  dataset.class_names = {"upper_moon", "lower_moon"};
  return dataset;
}

// spirals: K arms (the CS231n classic). Arm k at radius r in [0, 1) has angle
// 2*pi*k/K + 4r plus Gaussian angle noise (default 0.2 rad); classes alternate.
Dataset Spirals(const BuiltinOptions& options, PortableRandom& rng) {
  const int n = options.samples;
  const int arms = options.classes == 0 ? 3 : options.classes;
  const double noise = NoiseOr(options, 0.2);
  TableBuilder x(n, 2);
  std::vector<int> labels(n);
  for (int i = 0; i < n; ++i) {
    const int arm = i % arms;
    const double r = rng.Uniform();
    const double angle = 2.0 * std::numbers::pi * arm / arms + 4.0 * r + noise * rng.Normal();
    x.Append(r * std::sin(angle));
    x.Append(r * std::cos(angle));
    labels[i] = arm;
  }
  Dataset dataset;
  dataset.features = std::move(x).Build();
  dataset.targets = LabelColumn(labels);
  dataset.num_classes = arms;
  dataset.feature_names = {"x", "y"};
  for (int k = 0; k < arms; ++k) dataset.class_names.push_back(absl::StrCat("arm_", k));
  return dataset;
}

// blobs: sklearn.datasets.make_blobs' recipe: K centres uniform in [-10, 10]^D, points
// Gaussian around them with standard deviation `noise` (default 1); classes alternate.
Dataset Blobs(const BuiltinOptions& options, PortableRandom& rng) {
  const int n = options.samples;
  const int k = options.classes == 0 ? 3 : options.classes;
  const int d = options.features == 0 ? 2 : options.features;
  const double noise = NoiseOr(options, 1.0);
  std::vector<double> centres(static_cast<size_t>(k) * d);
  for (double& c : centres) c = rng.Uniform(-10.0, 10.0);
  TableBuilder x(n, d);
  std::vector<int> labels(n);
  for (int i = 0; i < n; ++i) {
    const int label = i % k;
    for (int j = 0; j < d; ++j)
      x.Append(centres[static_cast<size_t>(label) * d + j] + noise * rng.Normal());
    labels[i] = label;
  }
  Dataset dataset;
  dataset.features = std::move(x).Build();
  dataset.targets = LabelColumn(labels);
  dataset.num_classes = k;
  for (int j = 0; j < d; ++j) dataset.feature_names.push_back(absl::StrCat("x", j));
  for (int c = 0; c < k; ++c) dataset.class_names.push_back(absl::StrCat("blob_", c));
  return dataset;
}

struct Generator {
  const char* name;
  uint64_t stream;  // keeps generators on distinct random streams for the same seed
  int max_classes;  // 0: the class count is fixed (options.classes must be 0)
  bool takes_features;
  double max_noise;
  const char* noise_meaning;
  Dataset (*make)(const BuiltinOptions&, PortableRandom&);
};

constexpr Generator kGenerators[] = {
    {"house_prices", 1, 0, false, 2.0, "the standard deviation of the log-price noise",
     HousePrices},
    {"spam", 2, 0, false, 0.5, "the fraction of mislabelled messages", Spam},
    {"cat_dog_bird", 3, 0, false, 0.5, "the fraction of mislabelled animals", CatDogBird},
    {"moons", 4, 0, false, 10.0, "the standard deviation of the point noise", Moons},
    {"spirals", 5, kMaxSpiralArms, false, 10.0, "the standard deviation of the angle noise",
     Spirals},
    {"blobs", 6, kMaxBlobs, true, 100.0, "the standard deviation around each centre", Blobs},
};

absl::Status CheckOptions(const Generator& generator, const BuiltinOptions& options) {
  const char* name = generator.name;
  if (options.samples < kMinSamples || options.samples > kMaxSamples) {
    return InvalidFieldError("dataset.builtin.samples",
                             absl::StrCat(" must be in [", kMinSamples, ", ", kMaxSamples,
                                          "] (got ", options.samples, ")"));
  }
  if (generator.max_classes == 0 && options.classes != 0) {
    return InvalidFieldError(
        "dataset.builtin.classes",
        absl::StrCat(" must be 0 for ", name, ", whose class count is fixed (got ", options.classes,
                     ")"));
  }
  if (generator.max_classes > 0 && options.classes != 0 &&
      (options.classes < 2 || options.classes > generator.max_classes)) {
    return InvalidFieldError("dataset.builtin.classes",
                             absl::StrCat(" for ", name, " must be 0 (default) or in [2, ",
                                          generator.max_classes, "] (got ", options.classes, ")"));
  }
  const bool takes_features = generator.takes_features;
  if (!takes_features && options.features != 0) {
    return InvalidFieldError(
        "dataset.builtin.features",
        absl::StrCat(" must be 0 for ", name, ", whose features are fixed (got ", options.features,
                     ")"));
  }
  if (takes_features && (options.features < 0 || options.features > kMaxBlobFeatures)) {
    return InvalidFieldError("dataset.builtin.features",
                             absl::StrCat(" for ", name, " must be 0 (default) or in [1, ",
                                          kMaxBlobFeatures, "] (got ", options.features, ")"));
  }
  if (std::isnan(options.noise) || options.noise > generator.max_noise) {
    return InvalidFieldError(
        "dataset.builtin.noise",
        absl::StrCat(" for ", name, " is ", generator.noise_meaning, " and must be in [0, ",
                     generator.max_noise, "] (got ", options.noise, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> BuiltinDatasetNames() {
  std::vector<std::string> names;
  for (const Generator& generator : kGenerators) names.emplace_back(generator.name);
  return names;
}

absl::StatusOr<Dataset> MakeBuiltinDataset(std::string_view name, const BuiltinOptions& options) {
  for (const Generator& generator : kGenerators) {
    if (std::string_view(generator.name) != name) continue;
    RETURN_IF_ERROR(CheckOptions(generator, options));
    PortableRandom rng(DeriveSeed(options.seed, generator.stream, 0));
    return generator.make(options, rng);
  }
  return FieldError(
      absl::StatusCode::kNotFound, "dataset.builtin.name",
      absl::StrCat(" \"", std::string(name), "\" is not a builtin dataset; use one of: ",
                   absl::StrJoin(BuiltinDatasetNames(), ", ")));
}

}  // namespace descent
