// SPDX-License-Identifier: MIT
// Peer for mmapkit_bench: Boost.Interprocess mapped_region / file_mapping (libboost-dev,
// header-only).
//
//   boost_bench serve        answer the commands of bench/peer.c on stdin
//   boost_bench count FILE   run each operation between the counter's marker system
//                            calls (bench/syscount.c); FILE holds 64 KiB
//   boost_bench mq SIZE N CAP  N messages of SIZE bytes through a message_queue of CAP
//                            messages from this process to a forked consumer; prints
//                            "ns T", wall-clock nanoseconds per message
//   boost_bench shm-time N   N times shared_memory_object(create_only) + truncate +
//                            mapped_region + destruction + remove; prints "ns T" per cycle
//   boost_bench shm-count    that cycle 4 times between the counter's markers
//
// Only what Boost.Interprocess offers is measured, written the way its documentation
// shows: file_mapping + mapped_region, anonymous_shared_memory, flush(), advise().
#include <boost/interprocess/anonymous_shared_memory.hpp>
#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <boost/version.hpp>

#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace bi = boost::interprocess;

namespace {

const std::size_t SZ = 64 * 1024;
const long MARK_BEGIN = 0x4d4b00, MARK_END = 0x4d4b01, MARK_ERR = 0x4d4b02;
volatile unsigned char sink;

void mark(long nr, const char *arg = nullptr)
{
	syscall(nr, arg);
}

// CPU time of this thread, as bench/harness.c measures it.
long long now_ns()
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// The same arithmetic as bench/util.c sum64: wrapping sum of the 64-bit words.
std::uint64_t sum64(const void *p, std::size_t n)
{
	const std::uint64_t *w = static_cast<const std::uint64_t *>(p);
	std::size_t k = n / 8, i;
	std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, tail = 0;

	for (i = 0; i + 4 <= k; i += 4) {
		s0 += w[i];
		s1 += w[i + 1];
		s2 += w[i + 2];
		s3 += w[i + 3];
	}
	for (; i < k; i++)
		s0 += w[i];
	std::memcpy(&tail, static_cast<const unsigned char *>(p) + k * 8, n % 8);
	return s0 + s1 + s2 + s3 + tail;
}

// ---- count mode ----

using Op = std::function<void(const std::string &path, const std::string &tag)>;

// An operation measured whole: create and destroy between the markers.
Op whole(std::function<void(const std::string &)> fn)
{
	return [fn](const std::string &path, const std::string &tag) {
		mark(MARK_BEGIN, tag.c_str());
		try {
			fn(path);
		} catch (const std::exception &e) {
			mark(MARK_ERR, e.what());
		}
		mark(MARK_END);
	};
}

// An operation on a region made (and destroyed) outside the markers.
Op ranged(bool file, std::function<void(bi::mapped_region &)> fn)
{
	return [file, fn](const std::string &path, const std::string &tag) {
		bi::file_mapping fm;
		bi::mapped_region r;

		if (file) {
			bi::file_mapping f(path.c_str(), bi::read_write);
			bi::mapped_region m(f, bi::read_write);
			fm.swap(f);
			r.swap(m);
		} else {
			bi::mapped_region m = bi::anonymous_shared_memory(SZ);
			r.swap(m);
		}
		static_cast<unsigned char *>(r.get_address())[0] = 1;
		mark(MARK_BEGIN, tag.c_str());
		try {
			fn(r);
		} catch (const std::exception &e) {
			mark(MARK_ERR, e.what());
		}
		mark(MARK_END);
	};
}

void map_file(const std::string &path, bi::mode_t fmode, bi::mode_t rmode)
{
	bi::file_mapping f(path.c_str(), fmode);
	bi::mapped_region r(f, rmode);
}

std::vector<std::pair<std::string, Op>> count_ops()
{
	return {
		{"anon-shared create+unmap",
		 whole([](const std::string &) { bi::mapped_region r = bi::anonymous_shared_memory(SZ); })},
		{"file-shared map+unmap",
		 whole([](const std::string &p) { map_file(p, bi::read_write, bi::read_write); })},
		{"file-private map+unmap",
		 whole([](const std::string &p) { map_file(p, bi::read_only, bi::copy_on_write); })},
		{"file-shared RDONLY map+unmap",
		 whole([](const std::string &p) { map_file(p, bi::read_only, bi::read_only); })},
		{"sync", ranged(true, [](bi::mapped_region &r) { r.flush(0, 0, false); })},
		{"sync ASYNC", ranged(true, [](bi::mapped_region &r) { r.flush(0, 0, true); })},
		{"advise SEQUENTIAL",
		 ranged(false, [](bi::mapped_region &r) { r.advise(bi::mapped_region::advice_sequential); })},
		{"advise DONTNEED",
		 ranged(false, [](bi::mapped_region &r) { r.advise(bi::mapped_region::advice_dontneed); })},
		{"advise WILLNEED",
		 ranged(true, [](bi::mapped_region &r) { r.advise(bi::mapped_region::advice_willneed); })},
	};
}

int count(const std::string &path)
{
	auto ops = count_ops();

	for (int rep = 0; rep < 4; rep++)
		for (auto &op : ops)
			op.second(path, "boost|" + op.first);
	return 0;
}

// ---- serve mode ----

std::string create(long iters, const std::string &kind, std::size_t size, const std::string &path)
{
	long long t0 = now_ns();

	if (kind == "anon-private")
		return "unsupported Boost.Interprocess has no private anonymous mapping";
	for (long i = 0; i < iters; i++) {
		if (kind == "file") {
			bi::file_mapping f(path.c_str(), bi::read_write);
			bi::mapped_region r(f, bi::read_write);
			sink = *static_cast<volatile unsigned char *>(r.get_address());
		} else {
			bi::mapped_region r = bi::anonymous_shared_memory(size);
			*static_cast<volatile unsigned char *>(r.get_address()) = 1;
		}
	}
	return "ok " + std::to_string(now_ns() - t0);
}

std::string advise(long iters, const std::string &path)
{
	bi::file_mapping f(path.c_str(), bi::read_write);
	bi::mapped_region r(f, bi::read_write);
	long long t0 = now_ns();

	for (long i = 0; i < iters; i++)
		if (!r.advise(bi::mapped_region::advice_normal))
			return "error advise failed";
	return "ok " + std::to_string(now_ns() - t0);
}

std::string sync(long iters, const std::string &path)
{
	bi::file_mapping f(path.c_str(), bi::read_write);
	bi::mapped_region r(f, bi::read_write);
	long long t0 = now_ns();

	for (long i = 0; i < iters; i++)
		if (!r.flush(0, 0, false))
			return "error flush failed";
	return "ok " + std::to_string(now_ns() - t0);
}

std::string checksum(const std::string &path)
{
	long long t0 = now_ns();
	std::uint64_t s;
	{
		bi::file_mapping f(path.c_str(), bi::read_only);
		bi::mapped_region r(f, bi::read_only);
		s = sum64(r.get_address(), r.get_size());
	}
	return "ok " + std::to_string(now_ns() - t0) + " " + std::to_string(s);
}

std::string answer(const std::string &line)
{
	std::istringstream in(line);
	std::string verb, a, b, c;
	long iters = 0;

	in >> verb >> iters >> a >> b >> c;
	if (verb == "create")
		return create(iters, a, std::stoul(b), c);
	if (verb == "advise")
		return advise(iters, a);
	if (verb == "sync")
		return sync(iters, a);
	if (verb == "checksum")
		return checksum(a);
	return "unsupported " + verb;
}

int serve()
{
	std::string line;

	std::cout << "ready boost " << BOOST_LIB_VERSION << std::endl;
	while (std::getline(std::cin, line) && line != "quit") {
		std::string reply;

		try {
			reply = answer(line);
		} catch (const std::exception &e) {
			reply = std::string("error ") + e.what();
		}
		std::cout << reply << std::endl;
	}
	return 0;
}

// ---- sharing between processes (section 7) ----

long long wall_ns()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Sequence numbers first in each message; the consumer checks them and exits 1 on a gap.
int mq(std::size_t size, long n, std::size_t cap)
{
	std::string name = "mmapkit-bench-mq-" + std::to_string(getpid());
	std::vector<unsigned char> msg(size), in(size);

	bi::message_queue::remove(name.c_str());
	bi::message_queue q(bi::create_only, name.c_str(), cap, size);
	pid_t pid = fork();
	if (pid == 0) {
		for (long i = 0; i < n; i++) {
			std::size_t got;
			unsigned prio;
			long seq;

			q.receive(in.data(), size, got, prio);
			std::memcpy(&seq, in.data(), sizeof(seq));
			if (got != size || seq != i)
				_exit(1);
		}
		_exit(0);
	}
	long long t0 = wall_ns();
	for (long i = 0; i < n; i++) {
		std::memcpy(msg.data(), &i, sizeof(i));
		q.send(msg.data(), size, 0);
	}
	int st;
	waitpid(pid, &st, 0);
	long long t = wall_ns() - t0;
	bi::message_queue::remove(name.c_str());
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		std::printf("error the consumer saw a wrong message\n");
		return 1;
	}
	std::printf("ns %.3f\n", double(t) / double(n));
	return 0;
}

int shm_serial;

void shm_cycle()
{
	std::string name = "mmapkit-bench-boost-" + std::to_string(getpid()) + "-" +
			   std::to_string(shm_serial++);
	{
		bi::shared_memory_object shm(bi::create_only, name.c_str(), bi::read_write);
		shm.truncate(SZ);
		bi::mapped_region r(shm, bi::read_write);
	}
	bi::shared_memory_object::remove(name.c_str());
}

int shm_time(long n)
{
	long long t0 = wall_ns();

	for (long i = 0; i < n; i++)
		shm_cycle();
	std::printf("ns %.3f\n", double(wall_ns() - t0) / double(n));
	return 0;
}

int shm_count()
{
	for (int rep = 0; rep < 4; rep++) {
		mark(MARK_BEGIN, "boost|shm cycle");
		try {
			shm_cycle();
		} catch (const std::exception &e) {
			mark(MARK_ERR, e.what());
		}
		mark(MARK_END);
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc >= 2 && std::string(argv[1]) == "serve")
		return serve();
	if (argc >= 3 && std::string(argv[1]) == "count")
		return count(argv[2]);
	if (argc >= 5 && std::string(argv[1]) == "mq")
		return mq(std::stoul(argv[2]), std::stol(argv[3]), std::stoul(argv[4]));
	if (argc >= 3 && std::string(argv[1]) == "shm-time")
		return shm_time(std::stol(argv[2]));
	if (argc >= 2 && std::string(argv[1]) == "shm-count")
		return shm_count();
	std::fprintf(stderr, "usage: boost_bench serve | count FILE | mq SIZE N CAP | shm-time N | shm-count\n");
	return 2;
}
