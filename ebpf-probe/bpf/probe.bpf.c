// SPDX-License-Identifier: GPL-2.0
// spanguard's kernel probe: data exchanges of the monitored processes (DistAppGuard's data source).
//
// A raw tracepoint on sys_exit (no kprobes, no tracefs needed) sees read, write, pread64, pwrite64, readv, writev,
// sendto, recvfrom, sendmsg, recvmsg, sendfile, munmap and close as they complete. Bytes and calls are summed in
// the kernel per (process, thread, fd, op, peer) in one of two hash maps; user space flips `config.active` and
// drains the other one every interval, so the cost does not grow with the syscall rate and no update is lost to
// a race. Rare events (exec, exit, the first use of an fd, close) go through a ring buffer so that user space
// can resolve an fd while its process is alive. Every failure to record (ring buffer full, map full) is counted.
//
// Syscall arguments come from the pt_regs the tracepoint passes, at x86-64 offsets: the number in orig_ax, the
// arguments in di, si, dx, r10, r8 (no vmlinux.h or CO-RE needed; the user-space loader refuses other
// architectures).

#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define NR_READ 0
#define NR_WRITE 1
#define NR_CLOSE 3
#define NR_DUP2 33
#define NR_DUP3 292
#define NR_CLOSE_RANGE 436
#define NR_MUNMAP 11
#define NR_PREAD64 17
#define NR_PWRITE64 18
#define NR_READV 19
#define NR_WRITEV 20
#define NR_SENDFILE 40
#define NR_SENDTO 44
#define NR_RECVFROM 45
#define NR_SENDMSG 46
#define NR_RECVMSG 47

// struct pt_regs offsets on x86-64.
#define REG_R10 56
#define REG_R8 72
#define REG_DX 96
#define REG_SI 104
#define REG_DI 112
#define REG_ORIG_AX 120

#define OP_READ 1
#define OP_WRITE 2
#define OP_SEND 3
#define OP_RECV 4
#define OP_MUNMAP 5

#define MODE_ALL 0
#define MODE_PIDS 1
#define MODE_CGROUPS 2

#define REC_EXEC 1
#define REC_EXIT 2
#define REC_FD 3
#define REC_CLOSE 4
#define REC_CLOSE_RANGE 5 // fd = first, ts = last

#define CLOSE_RANGE_CLOEXEC 4

#define CNT_RINGBUF_DROPS 0
#define CNT_AGG_FULL 1
// Counters 2 and 3 are unused (they were the in-flight map and a per-syscall count, both gone from the hot path).

#define AF_INET 2

struct config {
	__u32 self_tgid;
	__u32 mode;
	__u32 active;
	__u32 pad;
};

struct agg_key {
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u32 op;
	__u32 peer_ip;   // IPv4 peer of sendto/recvfrom, network byte order; 0 when unknown
	__u16 peer_port; // network byte order
	__u16 pad;
	__u64 gen;       // which incarnation of the fd (fd numbers are reused after close)
};

struct agg_val {
	__u64 bytes;
	__u64 count;
};

struct fd_key {
	__u32 tgid;
	__s32 fd;
};

struct record {
	__u32 kind;
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u64 ts;
};

struct sockaddr_in4 {
	__u16 family;
	__u16 port;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} cgroups SEC(".maps");

// Per-CPU: each CPU adds to its own copy with plain additions (no locked instructions, no cache line bouncing
// between CPUs); user space sums the copies when it drains.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct agg_key);
	__type(value, struct agg_val);
} agg0 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct agg_key);
	__type(value, struct agg_val);
} agg1 SEC(".maps");

// The fds in use, and the generation (time of first use) of each incarnation.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fd_key);
	__type(value, __u64);
} known SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);
	if (c)
		*c += 1;
}

static __always_inline struct config *cfg(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&config, &zero);
}

static __always_inline int in_scope(struct config *c, __u32 tgid)
{
	if (tgid == c->self_tgid)
		return 0;
	if (c->mode == MODE_PIDS)
		return bpf_map_lookup_elem(&pids, &tgid) != 0;
	if (c->mode == MODE_CGROUPS) {
		__u64 cg = bpf_get_current_cgroup_id();
		return bpf_map_lookup_elem(&cgroups, &cg) != 0;
	}
	return 1;
}

// A saved user register. With a BTF tracepoint (`btf` = 1, a constant after inlining) the verifier knows regs
// is a struct pt_regs and the load is direct; on a raw tracepoint it must go through a helper call.
static __always_inline __u64 reg(void *regs, int off, const int btf)
{
	if (btf)
		return *(__u64 *)((char *)regs + off);
	__u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), regs + off);
	return v;
}

static __always_inline void emit(__u32 kind, __u64 pid_tgid, __s32 fd, __u64 ts)
{
	struct record *r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		count(CNT_RINGBUF_DROPS);
		return;
	}
	r->kind = kind;
	r->tgid = pid_tgid >> 32;
	r->tid = (__u32)pid_tgid;
	r->fd = fd;
	r->ts = ts;
	bpf_ringbuf_submit(r, 0);
}

static __always_inline void add_to(void *map, struct agg_key *k, __u64 bytes)
{
	struct agg_val *v = bpf_map_lookup_elem(map, k);
	if (v) {
		v->bytes += bytes;
		v->count += 1;
		return;
	}
	struct agg_val init = { .bytes = bytes, .count = 1 };
	if (bpf_map_update_elem(map, k, &init, BPF_NOEXIST) == 0)
		return;
	// Another CPU created the key first (this CPU's copy is zero), or the map is full.
	v = bpf_map_lookup_elem(map, k);
	if (v) {
		v->bytes += bytes;
		v->count += 1;
	} else {
		count(CNT_AGG_FULL);
	}
}

// The generation of this incarnation of fd: its first use announces it to user space (to be resolved now).
static __always_inline __u64 generation(__u64 pid_tgid, __s32 fd)
{
	struct fd_key fk = { .tgid = pid_tgid >> 32, .fd = fd };
	__u64 *g = bpf_map_lookup_elem(&known, &fk);
	if (g)
		return *g;
	__u64 gen = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&known, &fk, &gen, BPF_NOEXIST) == 0) {
		emit(REC_FD, pid_tgid, fd, gen);
		return gen;
	}
	g = bpf_map_lookup_elem(&known, &fk); // another thread announced it first
	return g ? *g : 0;
}

static __always_inline void account(struct config *c, __u64 pid_tgid, __s32 fd, __u32 op, __u64 bytes,
				    __u32 peer_ip, __u16 peer_port)
{
	struct agg_key k = {
		.tgid = pid_tgid >> 32,
		.tid = (__u32)pid_tgid,
		.fd = fd,
		.op = op,
		.peer_ip = peer_ip,
		.peer_port = peer_port,
		.gen = fd >= 0 ? generation(pid_tgid, fd) : 0,
	};
	if (c->active)
		add_to(&agg1, &k, bytes);
	else
		add_to(&agg0, &k, bytes);
}

// Everything happens at syscall exit: on x86-64 the saved user registers in pt_regs still hold the arguments
// (only ax is replaced by the return value; orig_ax keeps the syscall number). One hook and no in-flight map
// halve the per-syscall cost of an entry/exit pair, and no program runs at all on syscall entry.
static __always_inline int on_exit_common(void *regs, long ret, const int btf)
{
	long nr = (long)reg(regs, REG_ORIG_AX, btf);
	switch (nr) {
	case NR_READ: case NR_WRITE: case NR_PREAD64: case NR_PWRITE64: case NR_READV: case NR_WRITEV:
	case NR_SENDTO: case NR_RECVFROM: case NR_SENDMSG: case NR_RECVMSG: case NR_SENDFILE: case NR_MUNMAP:
	case NR_CLOSE: case NR_DUP2: case NR_DUP3: case NR_CLOSE_RANGE:
		break;
	default:
		return 0;
	}
	struct config *c = cfg();
	if (!c)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (!in_scope(c, id >> 32))
		return 0;
	__s32 fd = (__s32)reg(regs, REG_DI, btf);
	if (nr == NR_CLOSE_RANGE) {
		// Closes [first, last] without a close per fd; user space forgets the range's incarnations.
		if (ret == 0 && !(reg(regs, REG_DX, btf) & CLOSE_RANGE_CLOEXEC))
			emit(REC_CLOSE_RANGE, id, fd, (__u32)reg(regs, REG_SI, btf));
		return 0;
	}
	if (nr == NR_DUP2 || nr == NR_DUP3) {
		// dup2(old, new) silently closes `new` and makes it another file (shells redirect this way): its
		// incarnation ends here, like a close, and its next use announces the new one.
		if (ret < 0 || ret == fd)
			return 0;
		fd = (__s32)ret;
	}
	if (nr == NR_CLOSE || nr == NR_DUP2 || nr == NR_DUP3) {
		if (nr == NR_CLOSE && ret != 0)
			return 0;
		struct fd_key fk = { .tgid = id >> 32, .fd = fd };
		__u64 *g = bpf_map_lookup_elem(&known, &fk);
		if (g) {
			__u64 gen = *g;
			bpf_map_delete_elem(&known, &fk);
			emit(REC_CLOSE, id, fd, gen);
		}
		return 0;
	}
	if (nr == NR_MUNMAP) {
		__u64 len = reg(regs, REG_SI, btf);
		if (ret == 0 && len > 0)
			account(c, id, -1, OP_MUNMAP, len, 0, 0);
		return 0;
	}
	if (ret <= 0)
		return 0;
	__u32 peer_ip = 0;
	__u16 peer_port = 0;
	if (nr == NR_SENDTO || nr == NR_RECVFROM) {
		// sendto's destination, or recvfrom's source (written by the kernel before returning): 5th argument.
		void *addr = (void *)reg(regs, REG_R8, btf);
		struct sockaddr_in4 sa = {};
		if (addr && bpf_probe_read_user(&sa, sizeof(sa), addr) == 0 && sa.family == AF_INET) {
			peer_ip = sa.addr;
			peer_port = sa.port;
		}
	}
	switch (nr) {
	case NR_READ: case NR_PREAD64: case NR_READV:
		account(c, id, fd, OP_READ, ret, 0, 0);
		break;
	case NR_WRITE: case NR_PWRITE64: case NR_WRITEV:
		account(c, id, fd, OP_WRITE, ret, 0, 0);
		break;
	case NR_SENDTO: case NR_SENDMSG:
		account(c, id, fd, OP_SEND, ret, peer_ip, peer_port);
		break;
	case NR_RECVFROM: case NR_RECVMSG:
		account(c, id, fd, OP_RECV, ret, peer_ip, peer_port);
		break;
	case NR_SENDFILE:
		account(c, id, (__s32)reg(regs, REG_SI, btf), OP_READ, ret, 0, 0); // in_fd
		account(c, id, fd, OP_WRITE, ret, 0, 0);                      // out_fd
		break;
	}
	return 0;
}

// Where the kernel has BTF: a BTF tracepoint, pt_regs read directly (the fixed cost every syscall of the machine
// pays drops to a few loads and a switch).
SEC("tp_btf/sys_exit")
int on_sys_exit(__u64 *ctx)
{
	return on_exit_common((void *)ctx[0], (long)ctx[1], 1);
}

// Elsewhere: a raw tracepoint, registers read through bpf_probe_read_kernel.
SEC("raw_tracepoint/sys_exit")
int on_sys_exit_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_exit_common((void *)ctx->args[0], (long)ctx->args[1], 0);
}

SEC("raw_tracepoint/sched_process_exec")
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct config *c = cfg();
	__u64 id = bpf_get_current_pid_tgid();
	if (c && in_scope(c, id >> 32))
		emit(REC_EXEC, id, -1, bpf_ktime_get_ns());
	return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int on_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct config *c = cfg();
	__u64 id = bpf_get_current_pid_tgid();
	// One record per process, from its main thread.
	if (c && (id >> 32) == (__u32)id && in_scope(c, id >> 32))
		emit(REC_EXIT, id, -1, bpf_ktime_get_ns());
	return 0;
}
