/* pool.c - the kernels' threads: the thread count, and a small pool of worker threads that
 * claim chunks of work.
 *
 * tl_parallel(nchunks, max_threads, fn, ctx) calls fn(ctx, c, slot) once for every chunk c in
 * [0, nchunks), on up to max_threads threads (never more than tl_get_num_threads()). The chunks
 * are claimed one at a time from an atomic counter by every thread taking part, and the CALLING
 * thread takes part too. So a call never waits for a thread that has not started: when the OS
 * gives a worker no core (another process keeps it busy), the caller runs every chunk itself,
 * and once the counter is exhausted it waits only for chunks that a worker has already claimed
 * and is still running. (With a static split, as OpenMP's `schedule(static)`, the caller waits
 * up to a scheduler time slice for a worker whose core another process holds: on the 2-core VM
 * a 256^3 matmul took 8-12 ms instead of 0.2-0.5 ms while other processes kept both cores busy,
 * and with one busy process it averaged 0.75 ms against 0.47 ms for this pool; see README.)
 *
 * `slot` names the thread running the chunk, not the chunk: the caller is slot 0 and the workers
 * 1 .. max_threads - 1, and no two threads use the same slot at the same time within one call,
 * so fn may index per-thread scratch buffers by it (matmul's packing buffers do).
 *
 * The pool:
 *  - Workers are created on first use (as many as the largest call has needed so far), with all
 *    signals blocked (Python handles signals in its own thread), detached: process exit never
 *    waits for them.
 *  - An idle worker spins for TL_POOL_SPIN_NS (200 us, so kernels called back to back from Python
 *    find it awake; after the first 20 us it yields the core between checks) and then sleeps on
 *    a futex (a condition variable outside Linux), so it burns no core between bursts of calls.
 *    The caller wakes only the workers the call can use.
 *  - Joining is one compare-and-swap on `state` = job sequence number << 32 | CLOSED | number of
 *    workers inside, so a worker that wakes up late joins the job it was woken for or nothing:
 *    once the caller has run out of chunks it sets CLOSED, and from then on only the workers
 *    already inside can delay it. It spins for TL_POOL_WAIT_NS (50 us) while they finish their
 *    last chunks, then sleeps until the last one leaves.
 *  - One job at a time: a call made while the pool is busy -- from another Python thread (C
 *    calls release the GIL) or from inside a chunk (nested) -- runs its chunks serially on its own
 *    thread. One chunk, or one thread, runs inline: no atomics, no locks.
 *  - fork(): the child has no worker threads; an atfork handler resets the pool there, and the
 *    child creates new workers when it first needs them.
 * fn returns a status; tl_parallel returns 0 or one of the nonzero statuses returned (every
 * chunk runs regardless).
 *
 * Build with -DTL_NO_THREADS for a serial library (no pthreads): tl_parallel then runs every
 * chunk in the calling thread, and only 1 thread can be set.
 */
#define _GNU_SOURCE      /* sched_getaffinity, CPU_COUNT */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#ifndef TL_NO_THREADS
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#endif
#endif

static int tl__num_threads = 1;

/* ---- the thread count ----
 * Default: TL_NUM_THREADS if set, else OMP_NUM_THREADS (its first entry; the variable other
 * numerical libraries read too), else the CPUs this process may run on (its affinity mask, so
 * `taskset -c 0 python ...` gives 1), at most TL_MAX_THREADS. */
static int env_threads(const char *name) {
    const char *s = getenv(name);
    if (s == NULL) return 0;
    char *end;
    long v = strtol(s, &end, 10);
    while (*end == ' ') end++;
    if (end == s || v < 1 || (*end != '\0' && *end != ',')) return 0;
    return v > TL_MAX_THREADS ? TL_MAX_THREADS : (int)v;
}

static int cpus_available(void) {
#if !defined(TL_NO_THREADS) && defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set) > TL_MAX_THREADS ? TL_MAX_THREADS : CPU_COUNT(&set);
#endif
#if !defined(TL_NO_THREADS) && defined(_SC_NPROCESSORS_ONLN)
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0) return n > TL_MAX_THREADS ? TL_MAX_THREADS : (int)n;
#endif
    return 1;
}

static int default_threads(void) {
#ifdef TL_NO_THREADS
    return 1;
#else
    int n = env_threads("TL_NUM_THREADS");
    if (n == 0) n = env_threads("OMP_NUM_THREADS");
    return n ? n : cpus_available();
#endif
}

int tl_set_num_threads(int n) {
    if (n < 1 || n > TL_MAX_THREADS) return TL_EINVAL;
#ifdef TL_NO_THREADS
    if (n != 1) return TL_EINVAL;
#endif
    __atomic_store_n(&tl__num_threads, n, __ATOMIC_RELAXED);
    return TL_OK;
}

int tl_get_num_threads(void) { return __atomic_load_n(&tl__num_threads, __ATOMIC_RELAXED); }

const char *tl_threads_backend(void) {
#ifdef TL_NO_THREADS
    return "serial (built without threads)";
#else
    return "pthreads pool";
#endif
}

/* Every chunk in the calling thread, as slot 0. */
static int run_serial(int64_t nchunks, tl_chunk_fn fn, void *ctx) {
    int rc = TL_OK;
    for (int64_t c = 0; c < nchunks; c++) {
        int r = fn(ctx, c, 0);
        if (r && !rc) rc = r;
    }
    return rc;
}

#ifdef TL_NO_THREADS

__attribute__((constructor)) static void tl__pool_init(void) { tl__num_threads = 1; }

int tl_parallel(int64_t nchunks, int max_threads, tl_chunk_fn fn, void *ctx) {
    (void)max_threads;
    return run_serial(nchunks, fn, ctx);
}

#else

/* Idle spin of a worker before it sleeps, and of a caller waiting for workers' last chunks.
 * A sleeping worker is woken by a futex, and on this VM it then often gets its core only after
 * the call's two bands are done: the caller, which claims units too, runs both, and the call
 * takes the one-thread time. The spin must outlast the gap between two threaded kernels of the
 * code users write: in the raw-op MLP step (x @ W + b, .relu(), x @ W ...) one matmul is
 * separated from the next by two small ops and their Python, 30-40 us. Measured, that step
 * (784-256-256-10, batch 128, 2 threads; medians of 9 interleaved rounds, two runs): 20 us
 * 1.76-1.80 ms, barely faster than 1 thread (1.72 ms); 200 us 1.42-1.49 ms, against 1.18-1.20
 * ms for the same kernel calls made back to back. 50 and 100 us fell in between, 400 us gained
 * nothing over 200. (Earlier, with a 25 us row sum called in a Python loop, 5 us was too short
 * and 20 us enough.) But a worker that pause-spins 200 us after every call keeps three threads
 * runnable on two cores when another process wants one: with other jobs running, the same step
 * took 2.8-3.2 ms (20 us: 2.1-2.4 ms). So only the first TL_POOL_HOT_NS = 20 us pause-spin and
 * the rest calls sched_yield() between checks (as OpenBLAS's idle threads do): awake, but
 * giving the core to whoever else wants it -- 2.0-2.05 ms in those runs, the best of the three.
 * libgomp's default spin (OMP_WAIT_POLICY unset) and OpenBLAS's are longer still. */
#ifndef TL_POOL_SPIN_NS
#define TL_POOL_SPIN_NS 200000
#endif
/* of which the first TL_POOL_HOT_NS pause-spin; the rest yield the core between checks */
#ifndef TL_POOL_HOT_NS
#define TL_POOL_HOT_NS 20000
#endif
#ifndef TL_POOL_WAIT_NS
#define TL_POOL_WAIT_NS 50000
#endif

/* ---- sleeping on a 32-bit word: a futex on Linux, a condition variable elsewhere ---- */
#if defined(__linux__)
static void word_wait(uint32_t *w, uint32_t seen) {   /* returns at once if *w != seen */
    syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}
static void word_wake(uint32_t *w) {
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}
static void word_reset_after_fork(void) {}
#else
static pthread_mutex_t word_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t word_cond = PTHREAD_COND_INITIALIZER;
static void word_wait(uint32_t *w, uint32_t seen) {
    pthread_mutex_lock(&word_mutex);
    while (__atomic_load_n(w, __ATOMIC_SEQ_CST) == seen) pthread_cond_wait(&word_cond, &word_mutex);
    pthread_mutex_unlock(&word_mutex);
}
static void word_wake(uint32_t *w) {
    (void)w;
    pthread_mutex_lock(&word_mutex);
    pthread_cond_broadcast(&word_cond);
    pthread_mutex_unlock(&word_mutex);
}
static void word_reset_after_fork(void) {
    pthread_mutex_init(&word_mutex, NULL);
    pthread_cond_init(&word_cond, NULL);
}
#endif

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Spin until *w != seen or ns nanoseconds have passed; returns the last value read. After
 * `hot` nanoseconds each wait is a sched_yield() rather than a pause: the thread stays awake
 * (no futex wake-up to pay), but a thread of another process that wants this core gets it. */
static uint32_t spin_while_equal(const uint32_t *w, uint32_t seen, uint64_t ns, uint64_t hot) {
    uint64_t start = 0;
    int yielding = 0;
    for (unsigned i = 0;; i++) {
        uint32_t v = __atomic_load_n(w, __ATOMIC_ACQUIRE);
        if (v != seen) return v;
        if (yielding || (i & 63) == 0) {     /* the clock is read every 64 pauses */
            uint64_t t = now_ns();
            if (start == 0) start = t;
            else if (t - start >= ns) return v;
            else yielding = t - start >= hot;
        }
        if (yielding) sched_yield();
        else cpu_relax();
    }
}

/* ---- pool state ---- */
typedef struct {
    uint32_t wake;       /* futex word: sequence number of the last job this worker was called to */
    uint32_t sleeping;   /* 1 while the worker is (about to be) blocked on `wake` */
    int slot;
} __attribute__((aligned(64))) tl_worker;

#define JOB_CLOSED (1ull << 31)
#define JOB_INSIDE 0x7fffffffull    /* mask: workers inside the job */

static struct {
    tl_chunk_fn fn;
    void *ctx;
    int64_t nchunks;
    int rc;               /* first nonzero status a chunk returned */
    uint32_t done;        /* futex word the caller sleeps on; bumped when the last worker leaves */
    uint32_t waiting;     /* 1 while the caller is (about to be) blocked on `done` */
    int64_t next __attribute__((aligned(64)));     /* the next unclaimed chunk */
    uint64_t state __attribute__((aligned(64)));   /* sequence << 32 | JOB_CLOSED | inside */
} job;

static int pool_busy;                       /* 1 while a call owns the pool */
static uint32_t job_seq;                    /* sequence number of the last job (never 0) */
static int nworkers;                        /* workers created; worker i has slot i + 1 */
static tl_worker *workers[TL_MAX_THREADS];

static void set_rc(int r) {
    int zero = 0;
    __atomic_compare_exchange_n(&job.rc, &zero, r, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/* Claim and run chunks until none are left. */
static void run_chunks(int slot) {
    const int64_t n = job.nchunks;
    for (;;) {
        int64_t c = __atomic_fetch_add(&job.next, 1, __ATOMIC_RELAXED);
        if (c >= n) return;
        int r = job.fn(job.ctx, c, slot);
        if (r) set_rc(r);
    }
}

/* Worker side of job `seq`: join it unless it is over (or another job), run chunks, leave. */
static void work_on(uint32_t seq, int slot) {
    uint64_t s = __atomic_load_n(&job.state, __ATOMIC_RELAXED);
    do {
        if ((uint32_t)(s >> 32) != seq || (s & JOB_CLOSED)) return;
    } while (!__atomic_compare_exchange_n(&job.state, &s, s + 1, 1, __ATOMIC_ACQUIRE,
                                          __ATOMIC_RELAXED));
    run_chunks(slot);
    s = __atomic_sub_fetch(&job.state, 1, __ATOMIC_SEQ_CST);   /* releases the chunks' results */
    if ((s & JOB_INSIDE) == 0 && (s & JOB_CLOSED)) {
        /* the last one out of a closed job: wake the caller if it sleeps. (If the caller saw
         * the count reach 0 first and returned, this only bumps a later job's word: its caller
         * re-checks the count after every wake-up.) */
        __atomic_add_fetch(&job.done, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&job.waiting, __ATOMIC_SEQ_CST)) word_wake(&job.done);
    }
}

static void *worker_main(void *arg) {
    tl_worker *w = (tl_worker *)arg;
    uint32_t seen = 0;
    for (;;) {
        uint32_t s = spin_while_equal(&w->wake, seen, TL_POOL_SPIN_NS, TL_POOL_HOT_NS);
        if (s == seen) {
            /* sleep; the store to `sleeping` and the caller's store to `wake` are both seq_cst,
             * so either the caller sees sleeping == 1 and wakes us, or we see the new `wake` */
            __atomic_store_n(&w->sleeping, 1, __ATOMIC_SEQ_CST);
            while ((s = __atomic_load_n(&w->wake, __ATOMIC_SEQ_CST)) == seen)
                word_wait(&w->wake, seen);
            __atomic_store_n(&w->sleeping, 0, __ATOMIC_RELAXED);
        }
        seen = s;
        work_on(s, w->slot);
    }
    return NULL;
}

/* Make sure workers 1 .. n exist (creating them with every signal blocked); returns how many
 * do, which is fewer than n only when the system refuses more threads. Pool owner only. */
static int ensure_workers(int n) {
    if (nworkers >= n) return n;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    while (nworkers < n) {
        tl_worker *w = (tl_worker *)aligned_alloc(64, sizeof(tl_worker));
        if (w == NULL) break;
        memset(w, 0, sizeof *w);
        w->slot = nworkers + 1;
        pthread_t th;
        if (pthread_create(&th, &attr, worker_main, w) != 0) {
            free(w);
            break;
        }
        workers[nworkers++] = w;
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return nworkers < n ? nworkers : n;
}

/* Caller side, after closing the job: wait until no worker is inside. */
static void wait_for_workers(void) {
    uint64_t end = now_ns() + TL_POOL_WAIT_NS;
    for (unsigned i = 0; __atomic_load_n(&job.state, __ATOMIC_ACQUIRE) & JOB_INSIDE; i++) {
        if ((i & 63) == 0 && now_ns() >= end) break;
        cpu_relax();
    }
    __atomic_store_n(&job.waiting, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        uint32_t d = __atomic_load_n(&job.done, __ATOMIC_SEQ_CST);
        if ((__atomic_load_n(&job.state, __ATOMIC_SEQ_CST) & JOB_INSIDE) == 0) break;
        word_wait(&job.done, d);
    }
    __atomic_store_n(&job.waiting, 0, __ATOMIC_RELAXED);
}

int tl_parallel(int64_t nchunks, int max_threads, tl_chunk_fn fn, void *ctx) {
    int nt = tl_get_num_threads();
    if (max_threads < nt) nt = max_threads;
    if (nchunks < nt) nt = (int)nchunks;
    if (nt <= 1 || __atomic_exchange_n(&pool_busy, 1, __ATOMIC_ACQUIRE))
        return run_serial(nchunks, fn, ctx);
    nt = 1 + ensure_workers(nt - 1);
    if (nt == 1) {
        __atomic_store_n(&pool_busy, 0, __ATOMIC_RELEASE);
        return run_serial(nchunks, fn, ctx);
    }
    uint32_t seq = ++job_seq;
    if (seq == 0) seq = ++job_seq;
    job.fn = fn;
    job.ctx = ctx;
    job.nchunks = nchunks;
    job.rc = TL_OK;
    __atomic_store_n(&job.next, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&job.state, (uint64_t)seq << 32, __ATOMIC_RELEASE);   /* publishes the job */
    for (int i = 0; i < nt - 1; i++) {
        tl_worker *w = workers[i];
        __atomic_store_n(&w->wake, seq, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&w->sleeping, __ATOMIC_SEQ_CST)) word_wake(&w->wake);
    }
    run_chunks(0);
    if (__atomic_or_fetch(&job.state, JOB_CLOSED, __ATOMIC_SEQ_CST) & JOB_INSIDE)
        wait_for_workers();
    int rc = job.rc;
    __atomic_store_n(&pool_busy, 0, __ATOMIC_RELEASE);
    return rc;
}

/* In a child after fork(): only the forking thread exists, so the pool starts over. The old
 * workers' records are left allocated (a few hundred bytes). */
static void pool_after_fork_child(void) {
    nworkers = 0;
    pool_busy = 0;
    job.state = 0;
    job.waiting = 0;
    word_reset_after_fork();
}

/* Runs when the shared object is loaded, before Python can call anything. */
__attribute__((constructor)) static void tl__pool_init(void) {
    tl__num_threads = default_threads();
    pthread_atfork(NULL, NULL, pool_after_fork_child);
}

#endif

/* ---- spans: [0, n) cut into ranges ---- */
typedef struct {
    tl_span_fn fn;
    void *ctx;
    int64_t n, nchunks, align;
} span_job;

static int64_t span_bound(const span_job *s, int64_t c) {
    if (c >= s->nchunks) return s->n;
    int64_t b = s->n / s->nchunks * c + s->n % s->nchunks * c / s->nchunks;   /* no overflow */
    return b / s->align * s->align;
}

static int span_chunk(void *ctx, int64_t c, int slot) {
    const span_job *s = (const span_job *)ctx;
    const int64_t lo = span_bound(s, c), hi = span_bound(s, c + 1);
    return hi > lo ? s->fn(s->ctx, lo, hi, slot) : TL_OK;
}

int tl_parallel_span_(int64_t n, int64_t cost, tl_span_fn fn, void *ctx) {
    const double work = (double)n * (double)(cost > 1 ? cost : 1);
    double nt = work / TL_PAR_MIN;
    const int threads = tl_get_num_threads();
    if (nt > threads) nt = threads;
    if (nt > (double)n) nt = (double)n;
    if (nt < 2) return fn(ctx, 0, n, 0);
    double nc = nt * TL_CHUNKS_PER_THREAD;
    if (nc > work / TL_CHUNK_MIN) nc = work / TL_CHUNK_MIN;
    if (nc > (double)n) nc = (double)n;
    if (nc < nt) nc = nt;
    span_job s = {fn, ctx, n, (int64_t)nc, 1};
    if (n / s.nchunks >= 256) s.align = 16;
    return tl_parallel(s.nchunks, (int)nt, span_chunk, &s);
}
