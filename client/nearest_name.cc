#include "client/nearest_name.h"

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace descent::client {
namespace {

// Lower case without '_', so snake_case and lowerCamelCase spellings of a name compare equal.
std::string Folded(absl::string_view name) {
  std::string out;
  for (char c : name) {
    if (c != '_') out += absl::ascii_tolower(static_cast<unsigned char>(c));
  }
  return out;
}

// Optimal string alignment distance (Damerau-Levenshtein without repeated edits of a span).
int Distance(const std::string& a, const std::string& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

}  // namespace

int NameDistance(absl::string_view a, absl::string_view b) {
  return Distance(Folded(a), Folded(b));
}

std::string NearestName(absl::string_view typed, const std::vector<std::string>& candidates) {
  const std::string folded = Folded(typed);
  if (folded.size() > 64) return "";  // no name is that long; and the distance table is n*m
  const int allowed = std::max<int>(1, static_cast<int>(folded.size()) / 3);
  std::string best;
  int best_distance = std::numeric_limits<int>::max();
  for (const std::string& candidate : candidates) {
    const std::string other = Folded(candidate);
    int distance = Distance(folded, other);
    if (distance > allowed && folded.size() >= 3 && absl::StartsWith(other, folded)) {
      distance = allowed;  // a prefix ("hidden" for hiddenLayers) is as good as a close typo
    }
    if (distance <= allowed && distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace descent::client
