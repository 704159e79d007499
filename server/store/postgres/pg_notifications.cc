#include "server/store/postgres/pg_notifications.h"

#include <poll.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace descent::server {
namespace {

// Jobs whose last write is remembered; beyond it the table starts afresh, which wakes every
// waiter once (they read the store again and wait anew).
constexpr size_t kMaxJobsRemembered = 100'000;
// How long the thread waits between attempts to reconnect.
constexpr absl::Duration kReconnectPause = absl::Seconds(1);

std::string ListenSql() {
  return absl::StrCat("LISTEN ", PgNotifications::kWrittenChannel, "; LISTEN ",
                      PgNotifications::kCancelChannel, "; LISTEN ",
                      PgNotifications::kClaimableChannel);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgNotifications>> PgNotifications::Start(const std::string& url) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, PgConnection::Connect(url));
  // Before Start returns: what is written from then on is heard.
  RETURN_IF_ERROR(db->RunScript(ListenSql().c_str(), "listen for job changes"));
  return std::unique_ptr<PgNotifications>(new PgNotifications(std::move(db)));
}

PgNotifications::PgNotifications(std::unique_ptr<PgConnection> db) : db_(std::move(db)) {
  DESCENT_CHECK(pipe(wake_) == 0);
  thread_ = std::thread([this] { Loop(); });
}

PgNotifications::~PgNotifications() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  const char stop = 0;
  (void)!write(wake_[1], &stop, 1);
  thread_.join();
  close(wake_[0]);
  close(wake_[1]);
}

uint64_t PgNotifications::Mark() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

bool PgNotifications::Await(int64_t sequence, uint64_t mark, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  const auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stopping_ || everything_ > mark) return true;
    auto job = written_.find(sequence);
    return job != written_.end() && job->second > mark;
  };
  return mu_.AwaitWithDeadline(absl::Condition(&changed), deadline);
}

void PgNotifications::SetCancelHandler(std::function<void(int64_t)> handler) {
  absl::MutexLock lock(&handler_mu_);
  on_cancel_ = std::move(handler);
}

void PgNotifications::SetClaimableHandler(std::function<void()> handler) {
  absl::MutexLock lock(&handler_mu_);
  on_claimable_ = std::move(handler);
}

void PgNotifications::Claimable() {
  absl::MutexLock lock(&handler_mu_);
  if (on_claimable_) on_claimable_();
}

void PgNotifications::Written(int64_t sequence) {
  absl::MutexLock lock(&mu_);
  ++generation_;
  if (sequence < 0 || written_.size() >= kMaxJobsRemembered) {
    written_.clear();
    everything_ = generation_;
  }
  if (sequence >= 0) written_[sequence] = generation_;
}

void PgNotifications::Pause(absl::Duration timeout) const {
  pollfd wake{wake_[0], POLLIN, 0};
  poll(&wake, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
}

void PgNotifications::Loop() {
  const std::string listen = ListenSql();
  bool listening = true;  // Start listened
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (!listening) {
      // Reconnects first when the connection was lost.
      if (!db_->RunScript(listen.c_str(), "listen for job changes").ok()) {
        Pause(kReconnectPause);
        continue;
      }
      listening = true;
      // What was written, and submitted, while the connection was away went unheard.
      Written(-1);
      Claimable();
    }
    absl::StatusOr<std::vector<PgConnection::Notification>> heard =
        db_->AwaitNotifications(wake_[0], absl::Seconds(10));
    if (!heard.ok()) {
      listening = false;
      continue;
    }
    for (const PgConnection::Notification& notification : *heard) {
      int64_t sequence = 0;
      if (!absl::SimpleAtoi(notification.payload, &sequence)) continue;
      if (notification.channel == kWrittenChannel) {
        Written(sequence);
      } else if (notification.channel == kCancelChannel) {
        absl::MutexLock lock(&handler_mu_);
        if (on_cancel_) on_cancel_(sequence);
      } else if (notification.channel == kClaimableChannel) {
        Claimable();
      }
    }
  }
}

}  // namespace descent::server
