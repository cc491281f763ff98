// ThreadSanitizer builds only (PORTSCAND_TSAN): C11 <threads.h> over POSIX threads.
//
// Debian 12's librdkafka creates its threads and locks its queues with glibc's C11 calls
// (thrd_create, mtx_lock, cnd_wait, ...). The sanitizer runtimes of gcc 12 and clang 14 do
// not intercept them: a thread started by thrd_create has no sanitizer state and crashes on
// its first allocation, and locking through mtx_* is invisible, so every hand-over through a
// librdkafka queue would look like a race. Defined in the executable, these win over glibc's
// for librdkafka too, and call the pthread functions the sanitizer does intercept. glibc's
// C11 types are its pthread types under other names (same size and layout).
#include <pthread.h>
#include <threads.h>

#include <cerrno>
#include <cstdint>
#include <ctime>

namespace {

static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t));
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t));
static_assert(sizeof(once_flag) == sizeof(pthread_once_t));
static_assert(sizeof(thrd_t) == sizeof(pthread_t));

int status(int rc) {
  switch (rc) {
    case 0:
      return thrd_success;
    case ETIMEDOUT:
      return thrd_timedout;
    case EBUSY:
      return thrd_busy;
    case ENOMEM:
    case EAGAIN:
      return thrd_nomem;
    default:
      return thrd_error;
  }
}

pthread_mutex_t* native(mtx_t* m) {
  return reinterpret_cast<pthread_mutex_t*>(m);
}
pthread_cond_t* native(cnd_t* c) {
  return reinterpret_cast<pthread_cond_t*>(c);
}

struct start {
  thrd_start_t fn;
  void* arg;
};

void* run(void* p) {
  const start s = *static_cast<start*>(p);
  delete static_cast<start*>(p);
  // thrd_join reads the int result back from the pointer, as glibc's own thrd_create does.
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(s.fn(s.arg)));
}

}  // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t fn, void* arg) {
  auto* s = new start{fn, arg};
  const int rc = pthread_create(thr, nullptr, run, s);
  if (rc != 0) delete s;
  return status(rc);
}

int thrd_join(thrd_t thr, int* res) {
  void* result = nullptr;
  const int rc = pthread_join(thr, &result);
  if (rc == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<std::intptr_t>(result));
  return status(rc);
}

int thrd_detach(thrd_t thr) {
  return status(pthread_detach(thr));
}

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if ((type & mtx_recursive) != 0) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init(native(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return status(rc);
}

int mtx_lock(mtx_t* m) {
  return status(pthread_mutex_lock(native(m)));
}
int mtx_trylock(mtx_t* m) {
  return status(pthread_mutex_trylock(native(m)));
}
int mtx_timedlock(mtx_t* m, const struct timespec* until) {
  return status(pthread_mutex_timedlock(native(m), until));
}
int mtx_unlock(mtx_t* m) {
  return status(pthread_mutex_unlock(native(m)));
}
void mtx_destroy(mtx_t* m) {
  pthread_mutex_destroy(native(m));
}

int cnd_init(cnd_t* c) {
  return status(pthread_cond_init(native(c), nullptr));
}
int cnd_signal(cnd_t* c) {
  return status(pthread_cond_signal(native(c)));
}
int cnd_broadcast(cnd_t* c) {
  return status(pthread_cond_broadcast(native(c)));
}
int cnd_wait(cnd_t* c, mtx_t* m) {
  return status(pthread_cond_wait(native(c), native(m)));
}
int cnd_timedwait(cnd_t* c, mtx_t* m, const struct timespec* until) {
  return status(pthread_cond_timedwait(native(c), native(m), until));
}
void cnd_destroy(cnd_t* c) {
  pthread_cond_destroy(native(c));
}

void call_once(once_flag* flag, void (*fn)()) {
  pthread_once(reinterpret_cast<pthread_once_t*>(flag), fn);
}

}  // extern "C"
