// What `descent -o json watch` printed, read back line by line: one JSON WatchJobResponse per
// line. Used by the tests that kill, resume or replay a CLI watcher.
#ifndef DESCENT_TESTS_INTEGRATION_PRINTED_WATCH_H_
#define DESCENT_TESTS_INTEGRATION_PRINTED_WATCH_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/util/json_util.h"
#include "proto/job_state.h"

namespace descent::integration {

struct PrintedWatch {
  int64_t last_step = 0;  // the last step of the losses lines; 0 when none
  bool in_order = true;   // each losses line starts where the one before it ended
  int resumed = 0;        // resumed events
  bool saw_terminal = false;
  int unparsed_lines = 0;  // lines that are not a whole event: a killed watcher's cut last line
};

inline PrintedWatch ReadPrintedWatch(absl::string_view printed) {
  PrintedWatch watch;
  for (absl::string_view line : absl::StrSplit(printed, '\n', absl::SkipEmpty())) {
    v1::WatchJobResponse event;
    if (!google::protobuf::util::JsonStringToMessage(std::string(line), &event).ok()) {
      ++watch.unparsed_lines;
      continue;
    }
    if (event.has_losses()) {
      if (event.losses().first_step() != watch.last_step + 1) watch.in_order = false;
      watch.last_step = event.losses().first_step() + event.losses().losses_size() - 1;
    }
    if (event.has_resumed()) ++watch.resumed;
    if (event.has_state() && v1::IsTerminal(event.state().state())) watch.saw_terminal = true;
  }
  return watch;
}

}  // namespace descent::integration

#endif  // DESCENT_TESTS_INTEGRATION_PRINTED_WATCH_H_
