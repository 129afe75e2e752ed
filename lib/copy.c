/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_read and mmapkit_write: copies between a range and a buffer that
 * answer -EFAULT where a plain access would die of SIGBUS (the file was
 * truncated by another process, an I/O error, no space to allocate the page).
 *
 * The first copy installs a SIGBUS handler, once for the process.  Each copy
 * publishes a guard in its thread's slot (below): a jump buffer saved without
 * the signal mask (sigsetjmp(env, 0): no system call on the fast path) and the
 * addresses of the handle's pages.  A fault raised by the kernel inside those
 * pages, on the thread whose guard it is, jumps back into the copy, which
 * restores the signal mask the fault interrupted (the handler saved it from
 * its ucontext) and reports.  Every other SIGBUS goes on to the disposition
 * that was installed before ours, as the kernel would have delivered it:
 * the application's handler (SA_SIGINFO or plain, with its sa_mask and
 * SA_NODEFER), SIG_IGN for a signal sent with kill(), and the default action
 * (the process dies of SIGBUS) for the rest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <ucontext.h>

#include "internal.h"

/* What the handler found, for the copy to report. */
struct copy_fault {
	void *addr;
	int code;
	unsigned long mask; /* the kernel's signal mask the fault interrupted */
};

struct copy_guard {
	sigjmp_buf env;
	uintptr_t lo, hi; /* the handle's mapped pages */
	struct copy_fault *fault;
};

/*
 * Each thread that copies owns a slot of this table, found from its thread
 * pointer by open addressing: its guard is there while it copies.  Not thread-local
 * storage, which the handler cannot touch safely in a library loaded with
 * dlopen() (global-dynamic model): glibc's __tls_get_addr allocates a thread's
 * block (malloc, under dl_load_tls_lock) at that thread's first access, and
 * brings the thread's DTV up to date (realloc, free: "not AS-safe", says
 * dl-tls.c) at its first access after any dlopen()/dlclose() of a module with
 * TLS.  Touching the variable in the copy before the guarded part covers
 * neither case: the handler runs for every SIGBUS of every thread, in threads
 * that never copied too, at any instruction (BUS_MCEERR_AO and signals sent
 * with kill() arrive asynchronously, inside malloc as well), and another
 * thread may dlopen() between the touch and the fault.  tests/dlcopy.c checks
 * that a SIGBUS leaves no TLS block behind in a thread that never copied.
 * The initial-exec model, which never allocates, would put the library's whole
 * TLS (the error messages) into the static TLS reserve, where dlopen() finds
 * no room.  Slots are claimed once per thread and left as tombstones at its
 * exit (a key destructor), so that a lookup stops at the first never-used slot.
 */
#define SLOTS 4096u
#define SLOT_FREE ((uintptr_t)0)
#define SLOT_TOMB ((uintptr_t)1)

struct copy_slot {
	uintptr_t owner; /* thread_self() of the owner, or SLOT_FREE/SLOT_TOMB (atomic) */
	struct copy_guard *guard; /* only the owner writes it, and its handler reads it */
};

static struct copy_slot slots[SLOTS];
static pthread_key_t slot_key;
static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;
static bool slot_key_made;

/*
 * Who the calling thread is: its thread pointer, which the x86-64 and AArch64
 * TLS ABIs keep in a register (no call; async-signal-safe); pthread_self()
 * elsewhere.
 */
static inline uintptr_t thread_self(void)
{
	uintptr_t tp;

#if defined(__x86_64__)
	__asm__("mov %%fs:0, %0" : "=r"(tp));
#elif defined(__aarch64__)
	__asm__("mrs %0, tpidr_el0" : "=r"(tp));
#else
	tp = (uintptr_t)pthread_self();
#endif
	return tp;
}

static size_t slot_hash(uintptr_t self)
{
	return (size_t)(((uint64_t)self >> 6) * 0x9e3779b97f4a7c15ull >> 40) % SLOTS;
}

/* The calling thread's slot, or NULL; async-signal-safe (loads only). */
static struct copy_slot *slot_find(uintptr_t self)
{
	size_t h = slot_hash(self);

	for (size_t i = 0; i < SLOTS; i++) {
		struct copy_slot *s = &slots[(h + i) % SLOTS];
		uintptr_t o = __atomic_load_n(&s->owner, __ATOMIC_RELAXED);

		if (o == self)
			return s;
		if (o == SLOT_FREE)
			return NULL;
	}
	return NULL;
}

static void slot_release(void *arg)
{
	struct copy_slot *s = arg;

	s->guard = NULL;
	__atomic_store_n(&s->owner, SLOT_TOMB, __ATOMIC_RELEASE);
}

static void slot_key_make(void)
{
	slot_key_made = pthread_key_create(&slot_key, slot_release) == 0;
}

/* The first copy of a thread: a free slot or a tombstone becomes its own. */
static struct copy_slot *slot_claim(uintptr_t self, const char *call, int *err)
{
	size_t h = slot_hash(self);

	for (size_t i = 0; i < SLOTS; i++) {
		struct copy_slot *s = &slots[(h + i) % SLOTS];
		uintptr_t o = __atomic_load_n(&s->owner, __ATOMIC_RELAXED);

		if ((o == SLOT_FREE || o == SLOT_TOMB) &&
		    __atomic_compare_exchange_n(&s->owner, &o, self, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			pthread_once(&slot_key_once, slot_key_make);
			/* released at thread exit; without a key the slot stays taken */
			if (slot_key_made)
				pthread_setspecific(slot_key, s);
			return s;
		}
	}
	*err = mmapkit__fail(EAGAIN, "%s: more than %u threads are copying at once", call, SLOTS);
	return NULL;
}

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static bool installed;
/* The disposition before ours; written under install_lock, before `installed`. */
static struct sigaction prev;

bool mmapkit__sigbus_installed(void)
{
	return __atomic_load_n(&installed, __ATOMIC_ACQUIRE);
}

/*
 * The default action: the process dies of the signal (with a core dump where
 * enabled).  raise() leaves it pending while the handler blocks it, so it is
 * delivered the moment the handler returns, at the faulting instruction.
 * libc directly, here and below: a signal handler is no place for the test
 * build's counting shim.
 */
static void die_of(int sig)
{
	struct sigaction dfl;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

/* Deliver the signal to the disposition that was there before ours. */
static void chain(int sig, siginfo_t *si, void *uc)
{
	struct sigaction p = prev;
	sigset_t block, old;
	bool masked;

	if (!(p.sa_flags & SA_SIGINFO) && p.sa_handler == SIG_IGN) {
		if (si->si_code <= 0) /* sent with kill() or raise(): ignored as asked */
			return;
		p.sa_handler = SIG_DFL; /* a fault cannot be ignored: the kernel kills */
	}
	if (!(p.sa_flags & SA_SIGINFO) && p.sa_handler == SIG_DFL) {
		die_of(sig);
		return;
	}
	if (p.sa_flags & SA_RESETHAND) { /* once, then the default action */
		prev.sa_flags &= ~SA_SIGINFO;
		prev.sa_handler = SIG_DFL;
	}
	/* The mask it would have run with: ours blocks sig; add its sa_mask, honour NODEFER. */
	block = p.sa_mask;
	masked = !sigisemptyset(&block) || (p.sa_flags & SA_NODEFER);
	if (masked) {
		pthread_sigmask(SIG_BLOCK, &block, &old);
		if (p.sa_flags & SA_NODEFER) {
			sigemptyset(&block);
			sigaddset(&block, sig);
			pthread_sigmask(SIG_UNBLOCK, &block, NULL);
		}
	}
	if (p.sa_flags & SA_SIGINFO)
		p.sa_sigaction(sig, si, uc);
	else
		p.sa_handler(sig);
	if (masked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct copy_slot *slot = slot_find(thread_self());
	struct copy_guard *g = slot ? slot->guard : NULL;
	int saved = errno;

	/* si_code > 0: raised by the kernel for an access, not sent by a process */
	if (g && si->si_code > 0 && (uintptr_t)si->si_addr - g->lo < g->hi - g->lo) {
		g->fault->addr = si->si_addr;
		g->fault->code = si->si_code;
		/* the kernel's mask: _NSIG - 1 bits; the rest of glibc's sigset_t is not its */
		memcpy(&g->fault->mask, &((ucontext_t *)uc)->uc_sigmask, sizeof(g->fault->mask));
		slot->guard = NULL;
		siglongjmp(g->env, 1);
	}
	/*
	 * Not ours (the other side of a copy, say): no guard while the handler
	 * chained to runs, so that one leaving with longjmp leaves none behind.
	 */
	if (slot)
		slot->guard = NULL;
	chain(sig, si, uc);
	if (slot)
		slot->guard = g;
	errno = saved;
}

static bool same_action(const struct sigaction *a, const struct sigaction *b)
{
	return a->sa_handler == b->sa_handler && a->sa_flags == b->sa_flags;
}

/* Once per process: read the disposition there now, then put ours in its place. */
static int install(const char *call)
{
	struct sigaction sa, now;
	int err = 0;

	pthread_mutex_lock(&install_lock);
	if (installed)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	/* ONSTACK: a handler chained to may expect the alternate stack it asked for */
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	/* prev is complete before ours can run: a SIGBUS meanwhile finds it filled in */
	if (mmapkit__sys.sigaction(SIGBUS, NULL, &prev) < 0) {
		err = mmapkit__fail_sys(errno, call, "sigaction", "reading the SIGBUS disposition");
		goto out;
	}
	if (mmapkit__sys.sigaction(SIGBUS, &sa, &now) < 0) {
		err = mmapkit__fail_sys(errno, call, "sigaction", "installing the SIGBUS handler");
		goto out;
	}
	if (!same_action(&now, &prev)) /* changed by another thread in between */
		prev = now;
	__atomic_store_n(&installed, true, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&install_lock);
	return err;
}

#ifdef MMAPKIT_TESTING
unsigned mmapkit__copy_slots_used(void)
{
	unsigned n = 0;

	for (size_t i = 0; i < SLOTS; i++)
		n += __atomic_load_n(&slots[i].owner, __ATOMIC_RELAXED) > SLOT_TOMB;
	return n;
}

void mmapkit__sigbus_forget(void)
{
	pthread_mutex_lock(&install_lock);
	if (installed)
		sigaction(SIGBUS, &prev, NULL);
	__atomic_store_n(&installed, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&install_lock);
}
#endif

/* The handle's protection (mmapkit_protect) allows the access to every page of it. */
static bool allowed(const mmapkit_map *m, size_t off, size_t n, uint32_t need)
{
	size_t a = m->delta + off;

	if (m->nruns == 1)
		return (m->runs[0].attr & need) == need;
	return (mmapkit__runs_all(m, a / m->gran, (a + n + m->gran - 1) / m->gran) & need) == need;
}

static bool is_file_kind(const mmapkit_map *m)
{
	return m->kind == MMAPKIT_FILE_PRIVATE || m->kind == MMAPKIT_FILE_SHARED;
}

/* What the fault was: the file ends before the page, the file system is full, or I/O. */
static int report_fault(const mmapkit_map *m, const char *call, const struct copy_fault *g)
{
	unsigned char *ptr = m->base + m->delta, *addr = g->addr;
	size_t at = addr > ptr ? (size_t)(addr - ptr) : 0;
	size_t page_at = (size_t)(addr - m->base) / m->gran * m->gran; /* from m->base */
	uint64_t page_off = m->offset - m->delta + page_at; /* file offset of the page */
	struct statfs fs;
	struct stat st;

	if (g->code == BUS_MCEERR_AR || g->code == BUS_MCEERR_AO)
		return mmapkit__fail(EFAULT, "%s: SIGBUS at byte %zu of the range: a hardware memory error in the page",
				     call, at);
	if (!is_file_kind(m))
		return mmapkit__fail(EFAULT, "%s: SIGBUS at byte %zu of the range: the kernel could not supply the page (no memory or huge page to allocate it)",
				     call, at);
	if (mmapkit__sys.fstat(m->fd, &st) < 0)
		return mmapkit__fail(EFAULT, "%s: SIGBUS at byte %zu of the range (file offset %llu): the backing store could not supply the page (fstat of fd %d failed: %s)",
				     call, at, (unsigned long long)(m->offset + at), m->fd,
				     mmapkit_strerror(errno));
	if (page_off >= (uint64_t)st.st_size)
		return mmapkit__fail(EFAULT, "%s: SIGBUS at byte %zu of the range (file offset %llu): the file was truncated to %llu bytes, which ends before the page; the same handle works again once the file holds the page again",
				     call, at, (unsigned long long)(m->offset + at),
				     (unsigned long long)st.st_size);
	if (mmapkit__sys.fstatfs(m->fd, &fs) == 0 && (fs.f_bavail == 0 || fs.f_bfree == 0))
		return mmapkit__fail(EFAULT, "%s: SIGBUS at byte %zu of the range (file offset %llu): no space left on the file system to allocate the page (MMAPKIT_ALLOCATE reserves the blocks at construction)",
				     call, at, (unsigned long long)(m->offset + at));
	return mmapkit__fail(EFAULT, "%s: SIGBUS at byte %zu of the range (file offset %llu): the backing store could not supply the page: an I/O error, or the file was truncated and has grown back since (it holds %llu bytes now)",
			     call, at, (unsigned long long)(m->offset + at),
			     (unsigned long long)st.st_size);
}

/*
 * memmove(dst, src, n) guarded for faults in [lo, hi): 0, or -1 with *f
 * filled in by the handler.  Apart from the checks, so that the jump buffer
 * and the few values live across sigsetjmp are all its frame holds.
 * memmove: buf may lie in the mapping itself.
 */
static __attribute__((noinline)) int guarded_move(void *dst, const void *src, size_t n,
						  uintptr_t lo, uintptr_t hi, struct copy_fault *f,
						  struct copy_slot *slot)
{
	struct copy_guard g;

	g.lo = lo;
	g.hi = hi;
	g.fault = f;
	if (sigsetjmp(g.env, 0))
		return -1; /* the handler took the guard down */
	slot->guard = &g;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	memmove(dst, src, n);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	slot->guard = NULL;
	return 0;
}

/* After a fault: the signal mask as the fault found it, and the reason. */
static __attribute__((noinline, cold)) int copy_failed(const mmapkit_map *m, const char *call,
							const struct copy_fault *f)
{
	sigset_t mask;

	sigemptyset(&mask);
	memcpy(&mask, &f->mask, sizeof(f->mask));
	/* cannot fail with a valid set; libc directly, as in the handler */
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	return report_fault(m, call, f);
}

/* The refusals of a copy; 0 when it may go ahead. */
static __attribute__((noinline)) int copy_refused(const mmapkit_map *m, const char *call,
						  size_t off, const void *buf, size_t n,
						  bool writing)
{
	if (!m)
		return mmapkit__null_handle(call);
	if (!buf)
		return mmapkit__fail(EINVAL, "%s: buf is NULL", call);
	if (writing && (m->flags & MMAPKIT_RDONLY))
		return mmapkit__fail(EACCES, "%s: the handle is MMAPKIT_RDONLY", call);
	if (off > m->len || n > m->len - off)
		return mmapkit__fail(ERANGE, "%s: range %zu+%zu lies outside the mapping (%zu bytes)",
				     call, off, n, m->len);
	if (n && (m->attr_any & (MMAPKIT__A_DONTFORK | MMAPKIT__A_GONE))) {
		size_t a = m->delta + off;
		int err = mmapkit__fork_check(m, call, a / m->gran, (a + n + m->gran - 1) / m->gran);

		if (err) /* pages this fork() child does not have: SIGSEGV, not SIGBUS */
			return err;
	}
	if (n && !allowed(m, off, n, writing ? MMAPKIT__A_WRITE : MMAPKIT__A_READ))
		return mmapkit__fail(EACCES, "%s: range %zu+%zu holds pages protected against %s (mmapkit_protect)",
				     call, off, n, writing ? "writing" : "reading");
	if (n && !__atomic_load_n(&installed, __ATOMIC_ACQUIRE))
		return install(call);
	return 0;
}

/*
 * Copies n bytes between the range at off and buf (to the range when
 * writing).  The common case, checked inline: a handle whose pages all allow
 * the access (one attribute run) and were never DONTFORK (a fork() child may
 * lack those), the handler installed, the range inside.
 */
static inline __attribute__((always_inline)) int copy(const mmapkit_map *m, const char *call,
						     size_t off, void *buf, size_t n,
						     bool writing)
{
	uint32_t need = writing ? MMAPKIT__A_WRITE : MMAPKIT__A_READ;
	struct copy_slot *slot;
	struct copy_fault f;
	unsigned char *p;
	uintptr_t self;
	int r = 0;

	if (__builtin_expect(!m || !buf || off > m->len || n > m->len - off || !n ||
				     m->nruns != 1 || (m->runs[0].attr & need) != need ||
				     (m->attr_any & (MMAPKIT__A_DONTFORK | MMAPKIT__A_GONE)) ||
				     (writing && (m->flags & MMAPKIT_RDONLY)) ||
				     !__atomic_load_n(&installed, __ATOMIC_ACQUIRE),
			     0)) {
		r = copy_refused(m, call, off, buf, n, writing);
		if (r || !n)
			return r;
	}
	self = thread_self();
	slot = slot_find(self);
	if (__builtin_expect(!slot, 0) && !(slot = slot_claim(self, call, &r)))
		return r;
	p = m->base + m->delta + off;
	r = writing ? guarded_move(p, buf, n, (uintptr_t)m->base, (uintptr_t)m->base + m->map_len,
				   &f, slot)
		    : guarded_move(buf, p, n, (uintptr_t)m->base, (uintptr_t)m->base + m->map_len,
				   &f, slot);
	return r ? copy_failed(m, call, &f) : 0;
}

int mmapkit_read(const mmapkit_map *m, size_t off, void *buf, size_t n)
{
	return copy(m, "mmapkit_read", off, buf, n, false);
}

int mmapkit_write(mmapkit_map *m, size_t off, const void *buf, size_t n)
{
	return copy(m, "mmapkit_write", off, (void *)buf, n, true);
}
