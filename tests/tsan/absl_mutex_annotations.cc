// Makes absl::Mutex, absl::CondVar and absl::Notification visible to ThreadSanitizer when Abseil itself is not
// instrumented (Debian's libabsl is built without -fsanitize=thread, so its lock words are
// plain atomics TSan never sees, and every member guarded by an absl::Mutex would be
// reported as a race). Preloaded (LD_PRELOAD) into ThreadSanitizer-built test processes by
// scripts/ci-sanitizers.sh: each wrapper forwards to Abseil's own function and tells TSan
// that the lock was acquired (after) or released (before), keyed by the mutex's address.
// Reader locks are treated like writer locks, which can only hide a race between two
// readers (there is none to hide: readers do not write).
//
// Built only by scripts/ci-sanitizers.sh (clang++ -shared -fPIC), never linked into the
// product. Abseil's inline namespace is read from the installed headers, so the mangled
// names match the library.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

// Abseil's definition of a member function, looked up past this library. `mangled` is
// obtained from the member pointer's signature by the caller; a missing symbol is fatal.
template <typename Fn>
Fn Next(const char* name) {
  void* symbol = dlsym(RTLD_NEXT, name);
  if (symbol == nullptr) {
    std::fprintf(stderr, "absl_mutex_annotations: %s not found\n", name);
    std::abort();
  }
  return reinterpret_cast<Fn>(symbol);
}

// A waiter's Condition is evaluated with the mutex held, by the waiter inside Abseil (before
// the wrapper's acquire) or by the thread unlocking the mutex. Wrapping it makes every
// evaluation acquire the mutex's and the Condition's own (constructed by the waiter) state.
struct GuardedCondition {
  absl::Mutex* mu;
  const absl::Condition* cond;
};

bool EvalGuarded(GuardedCondition* guarded) {
  __tsan_acquire(guarded);
  __tsan_acquire(guarded->mu);
  const bool result = guarded->cond->Eval();
  // A false result lets Abseil release the mutex without going through Unlock.
  __tsan_release(guarded->mu);
  return result;
}

}  // namespace

// The mangled names below are those of absl::debian3 (Debian 12's libabsl 20220623).
#define DESCENT_ABSL_NS "N4absl7debian3"
// The namespace alone, for const members (their names start "_ZNK" instead of "_ZN").
#define DESCENT_ABSL_NS_BARE "4absl7debian3"

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static auto real = Next<void (*)(Mutex*)>("_Z" DESCENT_ABSL_NS "5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  static auto real = Next<void (*)(Mutex*)>("_Z" DESCENT_ABSL_NS "5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  static auto real = Next<bool (*)(Mutex*)>("_Z" DESCENT_ABSL_NS "5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static auto real = Next<bool (*)(Mutex*)>("_Z" DESCENT_ABSL_NS "5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  static auto real = Next<void (*)(Mutex*)>("_Z" DESCENT_ABSL_NS "5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  static auto real = Next<void (*)(Mutex*)>("_Z" DESCENT_ABSL_NS "5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  static auto real = Next<void (*)(Mutex*, const Condition&)>(
      "_Z" DESCENT_ABSL_NS "5Mutex8LockWhenERKNS0_9ConditionE");
  GuardedCondition guarded{this, &cond};
  __tsan_release(&guarded);
  real(this, Condition(&EvalGuarded, &guarded));
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static auto real = Next<void (*)(Mutex*, const Condition&)>(
      "_Z" DESCENT_ABSL_NS "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  GuardedCondition guarded{this, &cond};
  __tsan_release(&guarded);
  real(this, Condition(&EvalGuarded, &guarded));
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto real = Next<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "_Z" DESCENT_ABSL_NS "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  GuardedCondition guarded{this, &cond};
  __tsan_release(&guarded);
  const bool result = real(this, Condition(&EvalGuarded, &guarded), deadline);
  __tsan_acquire(this);
  return result;
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static auto real = Next<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "_Z" DESCENT_ABSL_NS "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  GuardedCondition guarded{this, &cond};
  __tsan_release(&guarded);
  const bool result = real(this, Condition(&EvalGuarded, &guarded), timeout);
  __tsan_acquire(this);
  return result;
}

// Await and CondVar waits release the mutex inside Abseil and take it again before they
// return.
void Mutex::Await(const Condition& cond) {
  static auto real = Next<void (*)(Mutex*, const Condition&)>(
      "_Z" DESCENT_ABSL_NS "5Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  GuardedCondition guarded{this, &cond};
  __tsan_release(&guarded);
  real(this, Condition(&EvalGuarded, &guarded));
  __tsan_acquire(this);
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto real = Next<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "_Z" DESCENT_ABSL_NS "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_release(this);
  GuardedCondition guarded{this, &cond};
  __tsan_release(&guarded);
  const bool result = real(this, Condition(&EvalGuarded, &guarded), deadline);
  __tsan_acquire(this);
  return result;
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static auto real = Next<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "_Z" DESCENT_ABSL_NS "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  GuardedCondition guarded{this, &cond};
  __tsan_release(&guarded);
  const bool result = real(this, Condition(&EvalGuarded, &guarded), timeout);
  __tsan_acquire(this);
  return result;
}

void CondVar::Wait(Mutex* mu) {
  static auto real =
      Next<void (*)(CondVar*, Mutex*)>("_Z" DESCENT_ABSL_NS "7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static auto real = Next<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "_Z" DESCENT_ABSL_NS "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool result = real(this, mu, deadline);
  __tsan_acquire(mu);
  return result;
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static auto real = Next<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      "_Z" DESCENT_ABSL_NS "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool result = real(this, mu, timeout);
  __tsan_acquire(mu);
  return result;
}

// A waiter that finds the notification already given returns on Abseil's own atomic load,
// without the mutex: what the notifier did before Notify() is published through the
// notification's address itself.
void Notification::Notify() {
  static auto real = Next<void (*)(Notification*)>("_Z" DESCENT_ABSL_NS "12Notification6NotifyEv");
  __tsan_release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  static auto real = Next<void (*)(const Notification*)>(
      "_ZNK" DESCENT_ABSL_NS_BARE "12Notification19WaitForNotificationEv");
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  static auto real = Next<bool (*)(const Notification*, absl::Duration)>(
      "_ZNK" DESCENT_ABSL_NS_BARE "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  static auto real = Next<bool (*)(const Notification*, absl::Time)>(
      "_ZNK" DESCENT_ABSL_NS_BARE "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
