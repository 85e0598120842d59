/* matmul.c - batched, strided matrix multiplication (GEMM), Goto/BLIS style.
 *
 *   C[t, i, j] = sum_p A[t, i, p] * B[t, p, j]       t over the (broadcast) batch index space
 *
 * A and B are read through arbitrary element strides (batch dims, row, column), so a transposed
 * view is just swapped row/column strides and a broadcast batch dim is stride 0: neither ever
 * needs a copy, because an operand is either PACKED before the arithmetic or, in a small problem,
 * read in place by a kernel that takes its strides (below). Loop nest, for one matrix
 * (matmul.inc):
 *
 *   for jc in steps of NC over n:                       B panel KC x NC lives in L3
 *     for pc in steps of KC over k:
 *       pack B[pc:pc+kc, jc:jc+nc] into NR-column slivers (p-major: sliver[p][0..NR))
 *       for ic in steps of MC over m:                   A block MC x KC lives in L2
 *         pack A[ic:ic+mc, pc:pc+kc] into MR-row slivers (p-major: sliver[p][0..MR))
 *         for jr in steps of NR:                        B sliver KC x NR lives in L1
 *           for ir in steps of MR:
 *             micro-kernel: an MR x NR block of C += A sliver @ B sliver, in registers
 *
 * Packing pads the last sliver of each block with zeros. The AVX2 micro-kernel is compiled once
 * per edge shape (1..MR rows x 1 or 2 vectors, the last one under a lane mask), so an edge tile
 * costs only its own rows and vectors and goes straight to C with masked loads and stores; the
 * portable kernel computes a full tile into a buffer and copies the valid part. The kernel
 * prefetches its C rows TL_MM_CPF = 32 steps before the end of its K loop (C is touched only after
 * it; see "Large sizes" below for why not at the start). The first KC step writes
 * C, later ones add to it; k == 0 writes zeros.
 *
 * Packing reads its source along the contiguous direction: a row-major B 8 rows at a time across
 * all slivers (one sliver at a time would stride through kc rows for every 64 bytes), a
 * column-major A (a transposed view) one column at a time across all slivers, a row-major A and a
 * column-major B as 6 x 8 / 8 x 8 blocks transposed in registers (6 x 4 / 4 x 4 for float64).
 *
 * Small problems (AVX2 build; one K block of B, kc x band width, at most TL_MM_DIRECT_MAX =
 * 64 KiB) skip packing where they can: packing costs O(mk + kn) against O(mnk) arithmetic --
 * 13% of a 64^3 product, still 3% at 256 -- and buys nothing for operands that stay in L1/L2. A
 * with contiguous rows is read in place (the kernel broadcasts A's elements one at a time anyway,
 * from 6 row pointers instead of one sliver), B with contiguous rows too (two unaligned vector
 * loads per step, B[p] at b + p * ldb); the other layouts, and B's last partial sliver (so that no
 * load passes B's last column), are packed as usual. Loop order i outer, j inner: the A rows of a
 * tile row stay in L1 while B streams from L2. Measured single-thread float32: 64^3 +15%,
 * 37x301x53 +8%, 4096x64x32 +20%; at a 256 x 256 K block of B (256 KiB) the packed path is 5-13%
 * faster, hence a bound. It is 64 KiB, not the 160 KiB one thread alone would allow: a 256^3
 * product on 2 threads cuts B into two 256 x 128 bands (128 KiB) and ran 10% slower in place than
 * packed (1.10 -> 0.98 of OpenBLAS; single-thread times at 64-512 and the MLP shapes unchanged).
 * B is not read in place either when its rows crowd a few L1 sets (mm_use_direct: more than 4 of
 * a sliver's kc rows to one set, e.g. rows 512 bytes apart fall into 8 of the 64 sets): 128^3
 * ran 10% slower in place (26.3 us, packed 24.2 us on 2 threads), 128x64x128 9%, while 112^3
 * (448-byte rows, all 64 sets) is 9% faster in place and 64^3 (16 sets, 4 rows each) the same.
 * Tried and not adopted: packing B whenever its rows are not a whole number of
 * cache lines (split loads): 10% faster at 37x301x53, 64x301x53 and 150^3, but 5-15% slower at
 * 50^3, 70^3, 100^3 and 30x200x20.
 *
 * Mid-size products (at most TL_MM_AINP_MAX = 2^28 multiply-adds, AVX2 build) take the packed
 * path for B but read A in place when its rows are contiguous (pl.a_inplace): packing A costs
 * O(mk) against O(mnk / threads), and with bands of columns every thread would pack ALL of A,
 * so only its own band of B is left to pack. The 6 row pointers of a tile stay within 6 cache
 * lines for 16 steps of p, so A's in-place reads cost about what the packed sliver's do.
 * Measured, 2 threads, same-run medians (ab script, 5 rounds, twice): 128^3 -7.5% (direct ->
 * A in place + packed B), 192^3 -5.5%, 256^3 -6% (196 -> 184 us), 384^3 and 512^3 -1-2%; one
 * thread 192-512 -1-3%; float64 64-256 -4-9%. Above the bound it was 1-2.5% slower (768^3,
 * 1000^3, 1024^3 and 1024 A @ B.T): A's rows 4 KiB apart share L1/L2 sets, and the packing it
 * saves is < 1% there. For the same reason A is packed below the bound too when a tile's rows
 * crowd one L1 set beyond its 8 ways (mm_row_sets): the AVX-512 tile's 12 rows a multiple of
 * 4 KiB apart, e.g. float64 512^3 (4 KiB rows), which ran at 46.5 GFLOP/s in place and 52.1
 * packed (one thread, thread CPU time, medians of 7 interleaved runs on the Zen 4 VM; 480^3,
 * 500^3, 520^3, 768^3 and 1024^3 ran at 50.5-52.5 in place or above the bound). The AVX2 tile's
 * 6 rows fit the ways.
 *
 * Register tile, AVX2+FMA (16 ymm registers): MR x NR = 6 x 16 for float32, 6 x 8 for float64,
 * i.e. 6 rows x 2 vectors = 12 accumulator registers, 2 for the B row of the current p and one
 * for the broadcast A element -- 15 of 16. Per p the kernel issues 12 FMAs for 8 loads (2 vector
 * loads of B + 6 broadcasts of A): Zen's two FMA pipes need 12 / 2 = 6 cycles, its load ports
 * take the 8 loads in 4, and 12 independent accumulators cover the FMA latency (4-5 cycles x 2
 * pipes = 8-10 in flight). A 4 x 24 or 8 x 12 tile would also fit but needs more broadcasts or
 * leaves fewer independent chains; 6 x 16 is the layout BLIS and OpenBLAS use on Haswell/Zen.
 *
 * Cache blocking (AMD EPYC Zen 3: L1d 32 KiB, L2 512 KiB per core, L3 32 MiB shared; overridable
 * with -DTL_MM_KC_F32=... / -DTL_MM_MC_F32=... for tuning):
 *   KC = 768 (float32) / 256 (float64): k is cut into ceil(k / KC) equal blocks, so k = 1024 runs
 *             as 2 x 512, 2048 as 3 x 683. A float32 B sliver (KC x NR x 4 = up to 48 KiB) no
 *             longer fits L1: the kernel streams it from L2 at 64 bytes per 6-cycle step, a third
 *             of L2's bandwidth, which the hardware prefetcher keeps up with. What a long K block
 *             buys is fewer passes over C (k / kc load-add-store updates of every C tile, each
 *             costing a C miss) and fewer kernel calls. float64 keeps 256 (16 KiB slivers):
 *             KC 512 (MC 36) / 768 (MC 24) ran only 0-2.5% faster (one thread, C alone, 3 rounds:
 *             256^3 47.5-47.7 GFLOP/s in all three, 512^3 46.8-47.1 -> 47.5-48.3, 1024^3 and
 *             1024 NT 47.8-48.5 -> 48.2-49.0), not checked on 2 threads or small sizes. The
 *             longer float32 kc also moves the in-place bound (kc x band width,
 *             TL_MM_DIRECT_MAX) for 256 < k <= 768; the small cases measured below did not
 *             change.
 *   MC: the A block MC x KC is 144 KiB (float32 MC = 48 at KC 768, float64 MC = 72 at 256): under
 *             a third of L2, so it survives next to the B sliver traffic passing through L2.
 *   NC: the B panel KC x NC is 4080 columns (float32) / 2040 (float64) wide: 12 MiB / 4 MiB of the
 *             L3 at most; n <= NC in every case measured below, i.e. one panel.
 * matmul.inc is instantiated through instantiate_float.h for float32 and float64, portable and
 * AVX2+FMA (picked at run time), and for int64, portable: the same packing with the portable
 * micro-kernel (6 x 8, exact wrap-around arithmetic in uint64).
 *
 * AVX-512 (tl__simd 2: AVX-512 F/VL/BW/DQ, detected at load time; Intel Xeon Emerald Rapids VM,
 * L1d 48 KiB, L2 2 MiB per core; MM_PICK below, every other family stays AVX2): the AVX2 template
 * compiled a third time with 512-bit vectors (instantiate_float.h, TL_AVX512), so packing, the
 * in-place paths and edge tiles are the same code; edge tiles use mask registers.
 *   Tile 12 x 32 float32 / 12 x 16 float64 (MR 12, NR 2 zmm): 24 accumulators, 2 for the B row,
 *   1 for the broadcast A element -- 27 of 32 zmm. Per p: 24 FMAs for 14 loads, 12 cycles on the
 *   two 512-bit FMA ports with the loads in 5-7, and 24 independent chains cover the FMA latency
 *   (4 cycles x 2 ports). It is the skx tile of BLIS / OpenBLAS (which broadcast B, we A),
 *   transposed; 12 rows rather than 14 (28 accumulators) so that row-major A packs with the
 *   6-row register transpose twice. On this VM the AVX2 6 x 16 kernel ran at 0.55-0.7 of
 *   OpenBLAS's AVX-512 sgemm.
 *   Blocking: KC 384 (float32 and float64): a B sliver is 384 x 128 bytes = 48 KiB, the L1, and
 *   streams from L2 at 128 bytes per 12-cycle step like the AVX2 path's longer one; MC 96: the
 *   A block (144 KiB float32) and a 384 x 1024 float32 B panel (1.5 MiB) fit the 2 MiB L2
 *   together. Swept on one thread (best of 25 interleaved runs, GFLOP/s at 1024^3 / the MLP's
 *   128x256x784): KC 256 MC 192 95 / 96, 384 x 192 97 / 108, 512 x 144 93 / 97, 768 x 96 93 /
 *   121, 384 x 96 108 / 128, 384 x 384 95 / 104, OpenBLAS 95 / 144 in the same runs -- within
 *   the noise of this shared VM (the medians of the same runs are 25-80 GFLOP/s) except that
 *   no setting was consistently better; not swept for float64.
 *   The matrix-vector path (below) is the AVX2 build's at level 2 too: compiled for AVX-512
 *   with 32 lanes it was no faster (1000 x 1000 float32).
 *   Measured 2026-12-07 on that VM while 6-7 processes shared its 2 cores (load average 5-7):
 *   float32 GFLOP/s of the C call, best of 21 interleaved 3 ms loops, two runs (the same
 *   library at level 1 / level 2, and np.matmul, OPENBLAS_NUM_THREADS=1, one thread):
 *                      AVX2 (level 1)   AVX-512 (level 2)   OpenBLAS
 *     256^3              84 / 62          142 / 105         150 / 101
 *     512^3              79 / 80           88 / 44 (noise)   78 / 69
 *     1024^3             39 / 40           81 / 71 (97, 108) 73 / 75 (95)
 *     128x784x256 NT     82 / 79          131 / 129         118 / 113
 *     128x256x256 NT     82 / 79          131 / 132         118 / 116
 *     128x256x784        77 / 31          131 / 127         135 / 86
 *     128x256x256        76 / 81          128 / 130         133 / 136
 *     256x128x784 TN     83 / 35          154 / 151         147 / 145
 *     256x128x256 TN     82 / 82          146 / 147         143 / 141
 *     128x10x256         69 / 44          104 / 46          106 / 67
 *     128x256x10 NT      47 / 20          39 -> 64 (*)       34 / 18
 *     10x128x256 TN      51 / 50          63 -> 80-124 (*)   78 / 57-79
 *   (in parentheses at 1024: the KC sweep's runs). (*) after two changes for narrow shapes:
 *   the last partial sliver packed along its contiguous direction after a memset (it was
 *   written element by element with a lane test, twice as many lanes as AVX2's), and a band of
 *   at most MR rows reading B in place (mm_use_direct). Two threads could not be measured
 *   meaningfully under that load (OpenBLAS's 2-thread medians fell to 0.5-60 GFLOP/s); best of
 *   21, level 2 / OpenBLAS: 1024^3 80 / 58, 256x128x784 TN 170 / 179, 128x784x256 NT 130 / 175.
 *   The lead's quiet-machine bench is the reference; the comparison above is same-run only.
 *
 * Half operands (float16 / bfloat16, issue 16): A, B and C of one half type go through the
 * float32 GEMM: the packing routines read the halves and widen them into the float32 panels
 * (matmul.inc's mm_pack_a_h_ / mm_pack_b_h_: a sliver's piece widened in long contiguous runs
 * into a stack buffer, then packed by the float32 routine), so no float32 copy of an operand is
 * made and the kernel, blocking and each element's summation order are float32's; the float32
 * C (one scratch block of the output's size, needed to accumulate across K blocks) is rounded to
 * the half type, nearest even, by each work unit for its band. The in-place paths are off for
 * halves (they read float32 operands in place). The result has the bits of the float32 GEMM of
 * the widened operands -- what converting first gave. Matrix-vector shapes widen the memory
 * each operand spans instead (mm_half_matvec). Callgrind (AVX2 build, 512^3 bf16, one thread):
 * 3.7% more instructions than float32, packing and rounding included.
 *
 * m == 1 or n == 1 (matrix-vector, vector-matrix, dot) skips packing, which would only add
 * traffic when every element is used once: rows of the matrix are dotted with the vector four at
 * a time, or, when its columns are the contiguous ones, columns are accumulated (axpy).
 *
 * Threads (above TL_MM_PAR_MIN multiply-adds): the work is cut into units that share nothing but
 * the read-only inputs -- whole matrices when the batch divides evenly among the threads (or is
 * large, or its matrices are small), otherwise one band of each matrix per thread: a band of rows
 * (the IC loop split; each thread packs B for itself) or a band of columns (each thread packs A
 * unless A is read in place), whichever gives the smaller per-thread cost, i.e. the largest band's
 * multiply-adds plus the elements its thread packs (mm_band_cost, which asks the same
 * mm_use_direct / a_inplace questions the plan will; bands are whole slivers, so 256 rows split
 * 126 + 130 but 256 columns 128 + 128). Each thread has its own packing buffers (indexed by its
 * slot in the thread pool), so nothing synchronises until the end of the call. The units are
 * claimed one at a time by whichever thread is free, the calling thread included (tl_parallel,
 * csrc/pool.c): a worker that the OS keeps off its core because another process holds it leaves
 * its units to the caller, and the call takes about the one-thread time instead of waiting a
 * scheduler time slice for the worker (with OpenMP's static schedule a 256^3 product averaged 0.75
 * ms, against 0.47 ms now, while one busy process ran on this 2-core VM, and took 8-12 ms when
 * other processes kept both cores busy). Cutting finer than one band per thread was measured and
 * dropped: with B packed once per thread and kept for all its bands (so that extra bands cost no
 * packing), 4 bands per thread were 3-4% slower at 512-1024 on a quiet machine (each band streams
 * the packed B panel through the caches for fewer rows) and no faster under load, where a worker
 * woken while another process holds its core seldom gets that core before the caller has done most
 * of the work. The
 * shared-B-panel alternative (BLIS) saves the duplicated packing of the other operand -- O(k *
 * min(m, n)) per extra thread against O(m * n * k / threads) arithmetic, measured 2-4% of a
 * thread's time at 256-1000 on 2 threads -- but needs two barriers per KC step, and on a machine
 * whose cores are shared with other processes a barrier waits for the slowest, preempted thread:
 * measured 2-3x slower under load on this 2-core VM. A barrier-free variant was tried and dropped:
 * one packed copy of B shared by all threads, each chunk of slivers packed by the first thread to
 * claim it (atomic flag; one still being packed elsewhere was packed again privately, never waited
 * for), rows handed out as tasks from an atomic counter -- 0-6% slower than the private bands at
 * 512-2048 (each thread then reads slivers the other core packed, from L3 instead of its own L2).
 * Packing buffers (64-byte aligned) are kept from one call to the next (mm_buf_get / mm_buf_put):
 * the largest block used so far stays allocated, ~8.5 MiB after a large float32 product on 2
 * threads.
 *
 * Small and mid sizes on the 2-core Zen 3 VM (FMA peak measured 102 GFLOP/s per core, 204 for
 * both), float32, 2 threads, tl / NumPy(OpenBLAS) of `a @ b` from Python, medians of 3 runs of
 *   flock /tmp/tl_bench.lock env OPENBLAS_NUM_THREADS=2 python3 bench/matmul_quick.py \
 *       --threads 2 --cases 64,128,192,256,384,512,100,37x301x53
 * alternating the old and the new build:
 *            64    128   192   256   384   512   100   37x301x53
 *   before  0.67  1.01  0.98  1.01  1.03  1.01  0.78  0.80
 *   after   0.63  0.88  0.92  0.96  0.98  1.00  0.75  0.76
 * (the C kernel alone, "C/np": 128 0.88 -> 0.79, 192 0.94 -> 0.87, 256 0.98 -> 0.93). 1024,
 * 2048, 1024 A.T @ B / A @ B.T and 1000 stay at 0.98-1.03 run to run: both libraries run at
 * 88-92% of the FMA peak there. Python's share of the tl column is about 1.2 us: 0.75 us for the
 * output tensor (tensor._empty) and 0.45 us for matmul()'s checks and the cffi call, down from
 * 0.9 us with the inline 2-D path in linalg.matmul (callgrind: tl_matmul_forward itself is ~1.4k
 * instructions for a 2 x 2 product, its cffi wrapper ~1.9k more).
 * Tried and dropped at these sizes: more than one band per thread in the in-place path (x2 the
 * same at 128-192, x4 5-10% slower: every band reads all of the other operand again); forcing
 * rows or columns against the cost model (within 2-4%, no consistent winner except where the
 * model now agrees). A thread that another process keeps off its core makes single calls take
 * the one-thread time (seen as 2x rounds at 320-448 in both builds); medians need 3+ runs.
 *
 * Large sizes (2026-11-24). perf on 1024^3, one thread, with KC = 256 / MC = 144 and C prefetched
 * at the start of the kernel: the micro-kernel held 97.8% of the GEMM's samples (packing A and B
 * 2.2%), its K loop 95.9% of the kernel's, i.e. the loop itself ran at ~98% of the FMA peak and
 * the loss to peak was the C update after the loop (~4% of the kernel) and the packing. Two
 * changes cut the first:
 *   - C prefetched TL_MM_CPF = 32 steps (~200 cycles) before the end of the K loop instead of
 *     at its start: the 12 C lines fetched 1500 cycles early are presumably evicted again by
 *     the A and B streams (at ldc = 4 KiB all 6 rows map to the same two L1 sets).
 *     +1-2% at 1024 (16 steps: no gain, 64: +0.5-1%).
 *   - KC 256 -> 768 for float32 (MC 144 -> 48, the same 144 KiB A block): +2-3% on top.
 * C alone (tl_matmul_forward through cffi, median GFLOP/s of >= 0.25 s, 3 rounds alternating the
 * builds; min-max over the rounds), one thread / two threads:
 *                      512        1024       1024 TN    1024 NT    2048       1000
 *   1 thr  before   93.9-95.2  93.5-96.1  93.3-95.1  93.7-95.9  95.2-95.4
 *          after    97.9-98.1  98.0-98.2  96.7-97.9  97.3-97.8  98.7-98.8
 *   2 thr  before              185.9-186.9 182.4-184.5 185.2-186.7 186.5-190.9 188.1-188.9
 *          after               191.0-192.6 188.4-189.3 192.4-193.2 193.3-194.7 190.7-192.0
 * (the after rows with C prefetched at the start: 1 thr 96.9-97.2, 96.1-97.9, 95.6-96.5,
 * 95.0-97.5, 97.0-97.2). KC sweep, one thread, 512 / 1024 / TN / NT, C prefetch at 32: KC 192
 * (MC 192) 93.3-95.4, worse than 256 (94.5-96.4 in the same runs); KC 384 (MC 96 or 144)
 * 95.7-98.4; KC 512 (MC 48, 72 or 96) 95.9-98.8; KC 768 (MC 48) 97.0-98.6; KC 1024 (MC 36)
 * 96.2-99.4, the same as 768 within noise at 1024 / 2048 on 1 and 2 threads. On 2 threads
 * 128-512 gained too (128 177 -> 181, 256 187 -> 191, 384 183 -> 190, 512 186 -> 191 GFLOP/s,
 * same tool); 48-100 unchanged within 1% on one thread.
 * From Python, tl / NumPy (OpenBLAS) ratios and tl GFLOP/s, medians of 3 runs alternating builds:
 *   flock /tmp/tl_bench.lock env OPENBLAS_NUM_THREADS=1 python3 bench/matmul_quick.py \
 *       --threads 1 --cases 512,1024,1024:TN,1024:NT
 *   flock /tmp/tl_bench.lock env OPENBLAS_NUM_THREADS=2 python3 bench/matmul_quick.py \
 *       --threads 2 --cases 1024,2048,1024:TN,1024:NT,1000
 *                      512         1024        1024 TN     1024 NT     2048        1000
 *   1 thr  before   1.00  94.7  1.00  95.3  1.00  94.4  0.99  93.1
 *          after    0.97  97.1  0.97  96.5  0.97  95.5  0.97  96.1
 *   2 thr  before               1.01 182.7  0.99 180.2  0.98 182.5  1.01 184.9  1.00 185.0
 *          after                0.99 187.1  1.00 183.1  0.97 188.5  0.99 188.6  0.99 186.2
 * (NumPy itself varies 2-4% between runs on 2 threads, so the 2-thread ratios scatter 0.87-1.03.)
 * Small cases unchanged (2 threads, 3 rounds: 64^3 4.9-5.0 us, 100^3 14.8-15.0, 37x301x53
 * 12.8-13.2, 4096x64x32 97-100.5 us in both builds); float64 512 / 1024 +1% (the C prefetch).
 * Tried and not adopted: unrolling the K loop 2x / 4x (#pragma GCC unroll; 0-1% alone, nothing
 * on top of the C prefetch), prefetching the packed A sliver 512 bytes ahead every step (+0-1%,
 * within noise), C prefetched at the start only when kc <= 64 (no difference at 48-100).
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "half.h"
#ifdef TL_X86
#include <immintrin.h>
#endif

/* multiply-adds below which one thread does everything (a parallel region costs ~1-2 us) */
#ifndef TL_MM_PAR_MIN
#define TL_MM_PAR_MIN (1 << 18)
#endif

/* multiply-adds of one matrix up to which A with contiguous rows is read in place by the packed
 * path too (the packing of B alone) */
#ifndef TL_MM_AINP_MAX
#define TL_MM_AINP_MAX (1 << 28)
#endif

/* bytes of one K block of B (of one thread's band) up to which the operands are read in place */
#ifndef TL_MM_DIRECT_MAX
#define TL_MM_DIRECT_MAX (64 << 10)
#endif

#define TL_MM_MR 6
/* bytes of a half product's float32 C up to which it is kept with the packing buffers */
#ifndef TL_MM_HALF_KEEP
#define TL_MM_HALF_KEEP (16 << 20)
#endif
/* micro-kernel steps before the end of its K loop at which it prefetches its C tile */
#ifndef TL_MM_CPF
#define TL_MM_CPF 32
#endif
#ifndef TL_MM_KC_F32
#define TL_MM_KC_F32 768
#endif
#ifndef TL_MM_KC_F64
#define TL_MM_KC_F64 256
#endif
#ifndef TL_MM_MC_F32
#define TL_MM_MC_F32 48
#endif
#ifndef TL_MM_NC_F32
#define TL_MM_NC_F32 4080
#endif
#ifndef TL_MM_MC_F64
#define TL_MM_MC_F64 72
#endif
#ifndef TL_MM_NC_F64
#define TL_MM_NC_F64 2040
#endif
/* the AVX-512 path (tl__simd 2): a 12-row tile of 2 zmm vectors, and its own blocking */
#define TL_MM_MR_X 12
#ifndef TL_MM_KC_F32_X
#define TL_MM_KC_F32_X 384
#endif
#ifndef TL_MM_MC_F32_X
#define TL_MM_MC_F32_X 96
#endif
#ifndef TL_MM_NC_F32_X
#define TL_MM_NC_F32_X 4096
#endif
#ifndef TL_MM_KC_F64_X
#define TL_MM_KC_F64_X 384
#endif
#ifndef TL_MM_MC_F64_X
#define TL_MM_MC_F64_X 96
#endif
#ifndef TL_MM_NC_F64_X
#define TL_MM_NC_F64_X 2048
#endif

#define MM_CAT3_(a, b, c) a##b##c
#define MM_CAT3(a, b, c) MM_CAT3_(a, b, c)

static inline int64_t mm_ceil(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t mm_min(int64_t a, int64_t b) { return a < b ? a : b; }

/* One matmul call after the batch dims were coalesced. `it` walks the batch index space for the
 * operands (0 = C, 1 = A, 2 = B); rs/cs are the row and column strides of A and B. The work is
 * batch * parts units: each matrix is cut into `parts` bands of rows (split_m) or columns. */
typedef struct {
    int64_t m, n, k, batch;
    int64_t ars, acs, brs, bcs;
    tl_iter it;
    int nt;          /* threads */
    int64_t parts;   /* bands per matrix */
    int split_m;     /* 1: bands of rows, 0: bands of columns */
    int a_inplace;   /* 1: A's rows are contiguous and read in place by the packed path too */
    int hdt;         /* TL_F16 / TL_BF16: A, B and C are halves (float32 GEMM, packing widens);
                        0: all of the GEMM's own type */
} mm_problem;

/* One call's state for the work units (mm_chunk_): the problem, the plan, the operands, and
 * the packing buffers, sa + sb elements per thread slot. */
typedef struct mm_plan_ mm_plan;
typedef struct {
    const mm_problem *pr;
    const mm_plan *pl;
    void *c;          /* (halves: the float32 scratch the GEMM accumulates in) */
    const void *a, *b;
    void *buf;
    int64_t sa, sb;
    uint16_t *ch;     /* halves: the output, each unit's band rounded from c */
} mm_job;

/* Block sizes for one band: KC and MC are balanced so that the last block is not a sliver. */
struct mm_plan_ {
    int64_t kc;   /* K block */
    int64_t mc;   /* M block, a multiple of MR */
    int64_t nc;   /* N panel */
    int direct;   /* 1: A (and B when its rows are contiguous) read in place, not packed */
    int a_inplace;   /* 1: the packed path reads A in place (packs only B) */
};

static mm_plan mm_make_plan(int64_t m, int64_t n, int64_t k, int64_t MR, int64_t MC, int64_t KC,
                            int64_t NC) {
    mm_plan p;
    int64_t nk = mm_ceil(k, KC), mb = mm_ceil(m, MC);
    p.kc = nk ? mm_ceil(k, nk) : 1;
    p.mc = mb ? mm_ceil(mm_ceil(m, mb), MR) * MR : MR;
    p.nc = n < NC ? n : NC;
    p.direct = 0;
    p.a_inplace = 0;
    return p;
}

/* Whether one band's operands are read in place (mm_gemm_direct_): its K block of B, kc x bn,
 * is at most TL_MM_DIRECT_MAX bytes, and B's rows, when it is read in place (bcs == 1), do not
 * crowd into a few L1 sets. A sliver of B in place is kc 64-byte pieces brs * size bytes apart;
 * when that distance is a multiple of 64 bytes they fall into 64 / gcd(distance in lines, 64)
 * of the 64 sets of a 32 KiB 8-way L1, and more than 4 of them to a set (half the ways) evict
 * each other between uses: a 128 x 128 float32 B (512-byte rows: 8 sets, 16 rows each) ran 10%
 * slower in place than packed, 112 x 112 (448 bytes: all 64 sets) 9% faster.
 * A band of at most MR rows (bm) reads a row-major B in place whatever its size: each element
 * of B is used by one tile only, so packing it would only copy it once more (float32
 * 10x128x256 = dW of the MLP's last layer, A^T @ G: 0.8 -> 1.0 of OpenBLAS at level 2). */
/* The number of the 64 L1 sets that rows `rs` elements of `size` bytes apart cycle through:
 * 64 / gcd(lines mod 64, 64) for rows a whole number of 64-byte lines apart (one set for 4 KiB),
 * else 64 (split lines spread over all of them). */
static int64_t mm_row_sets(int64_t rs, size_t size) {
    const int64_t bytes = (rs < 0 ? -rs : rs) * (int64_t)size;
    if (bytes % 64) return 64;
    int64_t g = (bytes / 64) % 64, h = 64;   /* gcd(lines mod 64, 64); 0 lines: one set */
    if (g == 0) g = 64;
    while (h) {
        const int64_t t = g % h;
        g = h;
        h = t;
    }
    return 64 / g;
}

static int mm_use_direct(int64_t kc, int64_t bm, int64_t bn, int64_t brs, int64_t bcs,
                         size_t size, int64_t mr) {
    if (bm <= mr && bcs == 1) return 1;
    if ((double)(kc * bn) * (double)size > TL_MM_DIRECT_MAX) return 0;
    if (bcs != 1) return 1;
    return mm_ceil(kc, mm_row_sets(brs, size)) <= 4;
}

/* Per-thread cost, in multiply-adds, of cutting the problem into `parts` bands of rows (split_m)
 * or columns, whole MR / nr slivers each (as mm_unit_ cuts them): the largest band's arithmetic,
 * plus the elements its thread packs at TL_MM_PACK_COST multiply-adds each (measured: a packed
 * float32 element costs about as much time as 14 multiply-adds of the micro-kernel) -- its rows
 * of A unless A is read in place, its columns of B unless B is (mm_use_direct). */
#ifndef TL_MM_PACK_COST
#define TL_MM_PACK_COST 12.0
#endif
static double mm_band_cost(const mm_problem *pr, int64_t parts, int split_m, int64_t mr,
                           int64_t nr, int64_t KC, size_t size, int simd) {
    const int64_t m = pr->m, n = pr->n, k = pr->k;
    const int64_t len = split_m ? m : n, w = split_m ? mr : nr, s = mm_ceil(len, w);
    int64_t band = 0;
    for (int64_t q = 0; q < parts; q++) {
        const int64_t lo = s * q / parts * w, hi = mm_min(s * (q + 1) / parts * w, len);
        if (hi - lo > band) band = hi - lo;
    }
    const int64_t rows = split_m ? band : m, cols = split_m ? n : band;
    const int64_t nk = mm_ceil(k, KC), kc = mm_ceil(k, nk);
    const int direct = simd && !pr->hdt && mm_use_direct(kc, rows, cols, pr->brs, pr->bcs, size, mr);
    const int a_packed = !(pr->acs == 1 && (direct || pr->a_inplace));
    const int b_packed = !(direct && pr->bcs == 1);
    return (double)rows * (double)cols * (double)k +
           TL_MM_PACK_COST * (double)k * (double)(a_packed * rows + b_packed * cols);
}

/* Element offsets of batch item t for the three operands (no state: safe in any thread). */
static void mm_batch_offsets(const tl_iter *it, int64_t t, int64_t off[3]) {
    int64_t q = t / it->inner, r = t % it->inner;
    for (int j = 0; j < 3; j++) off[j] = r * it->istride[j];
    for (int d = it->ndim - 1; d >= 0; d--) {
        int64_t i = q % it->shape[d];
        q /= it->shape[d];
        for (int j = 0; j < 3; j++) off[j] += i * it->stride[j][d];
    }
}

/* `elems` rounded up so that elems * size is a whole number of 64-byte cache lines. */
static int64_t mm_round64(int64_t elems, size_t size) {
    return (elems * (int64_t)size + 63) / 64 * 64 / (int64_t)size;
}

/* Packing buffers: one block is kept from call to call. A fresh multi-hundred-KiB block from
 * malloc is (or, after glibc trims the heap, becomes again) fresh memory whose first touch takes a
 * page fault per 4 KiB -- measured ~30 faults per 256^3 call and ~145 per 1024^3 call, i.e. 3% of
 * a 256^3 product -- so the block goes back to a one-slot spare instead of to free(). The slot is
 * swapped atomically, so calls from several Python threads just allocate their own. The block's
 * first 64 bytes hold its payload size. */
static char *mm_spare = NULL;

static void *mm_buf_get(size_t bytes) {
    char *blk = __atomic_exchange_n(&mm_spare, NULL, __ATOMIC_ACQUIRE);
    if (blk != NULL && *(size_t *)blk >= bytes) return blk + 64;
    free(blk);
    blk = (char *)aligned_alloc(64, (bytes + 127) / 64 * 64);
    if (blk == NULL) return NULL;
    *(size_t *)blk = bytes;
    return blk + 64;
}

static void mm_buf_put(void *p) {
    char *blk = (char *)p - 64;
    char *old = __atomic_exchange_n(&mm_spare, blk, __ATOMIC_ACQ_REL);
    if (old == NULL) return;
    if (*(size_t *)old <= *(size_t *)blk) {   /* a concurrent call's block: keep the larger */
        free(old);
        return;
    }
    blk = __atomic_exchange_n(&mm_spare, old, __ATOMIC_ACQ_REL);
    free(blk);
}

/* dst[0..n) = the halves src[0], src[s], ... src[(n - 1) * s] widened to float32 (exact): the
 * packing routines' read of a half operand (issue 16: no float32 copy of the operand is made,
 * the packed panels are the only float32 form). Contiguous runs take half.c's vectorised loop. */
static void mm_h2f(int hdt, float *restrict dst, const uint16_t *src, int64_t s, int64_t n) {
    if (s == 1) {
        tl__half_to_f32(hdt, dst, src, n);
        return;
    }
    if (hdt == TL_BF16)
        for (int64_t i = 0; i < n; i++) dst[i] = tl_bf16_to_f32(src[i * s]);
    else
        for (int64_t i = 0; i < n; i++) dst[i] = tl_f16_to_f32(src[i * s]);
}

/* ---- instantiate: float32 / float64 (portable and AVX2+FMA), int64 (portable) ----
 * matmul.inc picks each type's tile and blocking at its top. int64 computes in uint64_t: the same
 * bits as wrapped two's-complement arithmetic, without signed overflow. */
#define TL_TEMPLATE "matmul.inc"
#define TL_I64_TYPE uint64_t
#define TL_AVX512
#include "instantiate_float.h"

/* the AVX-512 kernels at level 2, else PICK's AVX2 / portable ones */
#ifdef TL_X86
#define MM_PICK(name, args) (tl__simd >= 2 ? name##_avx512 args : PICK(name, args))
#else
#define MM_PICK(name, args) PICK(name, args)
#endif

/* The smallest and largest element offsets of a [batch..., rows, cols] view with strides st. */
static void mm_footprint(int nbatch, const int64_t *batch_shape, int64_t rows, int64_t cols,
                         const int64_t *st, int64_t *lo, int64_t *hi) {
    *lo = *hi = 0;
    for (int d = 0; d < nbatch + 2; d++) {
        const int64_t len = d < nbatch ? batch_shape[d] : d == nbatch ? rows : cols;
        const int64_t e = (len - 1) * st[d];
        if (e < 0) *lo += e;
        else *hi += e;
    }
}

/* Half operands of a matrix-vector product (m == 1 or n == 1): mm_gemv_ reads every element
 * once and is bound by that traffic, so instead of a half-reading copy of it the memory each
 * operand spans is widened to float32 once (the same strides, so the float32 product takes the
 * same path and gives the same bits as on float32 operands), and the result rounded. */
static int mm_half_matvec(int hdt, void *c, const void *a, const int64_t *as, const void *b,
                          const int64_t *bs, int nbatch, const int64_t *batch_shape, int64_t m,
                          int64_t n, int64_t k, int64_t batch) {
    int64_t alo, ahi, blo, bhi;
    mm_footprint(nbatch, batch_shape, m, k, as, &alo, &ahi);
    mm_footprint(nbatch, batch_shape, k, n, bs, &blo, &bhi);
    const int64_t na = ahi - alo + 1, nb = bhi - blo + 1, nc = batch * m * n;
    float *w = (float *)malloc((size_t)(na + nb + nc) * sizeof(float));
    if (w == NULL) return TL_ENOMEM;
    float *a32 = w, *b32 = w + na, *c32 = w + na + nb;
    tl__half_to_f32(hdt, a32, (const uint16_t *)a + alo, na);
    tl__half_to_f32(hdt, b32, (const uint16_t *)b + blo, nb);
    int rc = tl_matmul_forward(TL_F32, c32, a32 - alo, as, b32 - blo, bs, nbatch, batch_shape,
                               m, n, k);
    if (rc == TL_OK) tl__f32_to_half(hdt, (uint16_t *)c, c32, nc);
    free(w);
    return rc;
}

/* C (contiguous [batch..., m, n]) = A ([batch..., m, k]) @ B ([batch..., k, n]); see the header. */
int tl_matmul_forward(int dtype, void *c, const void *a, const int64_t *a_strides,
                      const void *b, const int64_t *b_strides, int nbatch,
                      const int64_t *batch_shape, int64_t m, int64_t n, int64_t k) {
    if (dtype != TL_F32 && dtype != TL_F64 && dtype != TL_I64 && !tl_is_half(dtype))
        return TL_EDTYPE;
    if (nbatch < 0 || nbatch > TL_MAX_DIMS - 2 || m < 0 || n < 0 || k < 0) return TL_EINVAL;
    if (nbatch > 0 && batch_shape == NULL) return TL_EINVAL;
    int64_t batch = 1;
    for (int d = 0; d < nbatch; d++) {
        if (batch_shape[d] < 0) return TL_EINVAL;
        batch *= batch_shape[d];
    }
    if (batch == 0 || m == 0 || n == 0) return TL_OK;
    const int hdt = tl_is_half(dtype) ? dtype : 0;   /* halves: a float32 GEMM */
    const size_t size = dtype == TL_F32 || hdt ? sizeof(float) : sizeof(double);
    if (c == NULL) return TL_EINVAL;
    if (k == 0) {                                   /* empty sum: zeros (+0 in every type) */
        memset(c, 0, (size_t)(batch * m * n) * (hdt ? 2 : size));
        return TL_OK;
    }
    if (a == NULL || b == NULL) return TL_EINVAL;

    /* strides, filling in contiguous ones where NULL: batch dims, then row, then column */
    int64_t as[TL_MAX_DIMS], bs[TL_MAX_DIMS], cs[TL_MAX_DIMS];
    {
        int64_t sa = 1, sb = 1, sc = m * n;
        for (int d = nbatch + 1; d >= 0; d--) {
            int64_t na = d == nbatch + 1 ? k : d == nbatch ? m : batch_shape[d];
            int64_t nb = d == nbatch + 1 ? n : d == nbatch ? k : batch_shape[d];
            as[d] = a_strides ? a_strides[d] : sa;
            bs[d] = b_strides ? b_strides[d] : sb;
            sa *= na;
            sb *= nb;
        }
        for (int d = nbatch - 1; d >= 0; d--) {
            cs[d] = sc;
            sc *= batch_shape[d];
        }
    }

    if (hdt && (m == 1 || n == 1))
        return mm_half_matvec(hdt, c, a, as, b, bs, nbatch, batch_shape, m, n, k, batch);
    mm_problem pr;
    pr.hdt = hdt;
    pr.m = m; pr.n = n; pr.k = k; pr.batch = batch;
    pr.ars = as[nbatch]; pr.acs = as[nbatch + 1];
    pr.brs = bs[nbatch]; pr.bcs = bs[nbatch + 1];
    const int64_t *st[3] = {cs, as, bs};
    int rc = tl_iter_init(&pr.it, nbatch, batch_shape, 3, st);
    if (rc) return rc;
    /* B shared by the whole batch and A's batch dim continuing its rows (x(B, T, k) @ W(k, n)):
     * one matrix of batch * m rows, which blocks and threads better than many short ones. */
    if (batch > 1 && pr.it.ndim == 0 && pr.it.istride[2] == 0 && pr.it.istride[1] == m * pr.ars) {
        pr.m = batch * m;
        pr.batch = 1;
        pr.it.inner = 1;
        pr.it.istride[0] = pr.it.istride[1] = pr.it.istride[2] = 0;
    }

    /* threads: whole matrices when the batch divides evenly or is large (or the matrices are
     * small), otherwise bands of each matrix, along M or N, whichever costs less per thread (the
     * largest band and the packing: e.g. 256^3 on 2 threads is 21 + 22 slivers of 6 rows but
     * 8 + 8 slivers of 16 columns) */
    double work = (double)pr.batch * (double)pr.m * (double)n * (double)k;
    pr.nt = work < TL_MM_PAR_MIN ? 1 : tl_get_num_threads();
    int by_batch = pr.batch >= pr.nt &&
                   (pr.batch % pr.nt == 0 || pr.batch >= 4 * pr.nt ||
                    (double)pr.m * (double)n * (double)k < TL_MM_PAR_MIN);
    pr.parts = by_batch ? 1 : pr.nt;
    {
#ifdef TL_X86
        const int simd = dtype != TL_I64 ? tl__simd : 0;
#else
        const int simd = 0;
#endif
        /* the tile of the kernels mm_run_ will pick: NR 16 float32, 8 float64 / int64 (AVX-512:
         * 32 / 16), MR 6 (AVX-512: 12) */
        const int64_t nr = (simd >= 2 ? 128 : 64) / (int64_t)size;
        const int64_t mr = simd >= 2 ? TL_MM_MR_X : TL_MM_MR;
        const int64_t KC = size == sizeof(float) ? (simd >= 2 ? TL_MM_KC_F32_X : TL_MM_KC_F32)
                                                 : (simd >= 2 ? TL_MM_KC_F64_X : TL_MM_KC_F64);
        /* (and not when a tile's mr rows of A crowd one L1 set's 8 ways: rows a multiple of
         * 4 KiB apart at the AVX-512 tile's 12 rows, e.g. float64 512^3, see TL_MM_AINP_MAX) */
        pr.a_inplace = simd && !hdt && pr.acs == 1 &&
                       (double)pr.m * (double)n * (double)k <= TL_MM_AINP_MAX &&
                       mm_ceil(mr, mm_row_sets(pr.ars, size)) <= 8;
        pr.split_m = pr.parts == 1 || mm_band_cost(&pr, pr.parts, 1, mr, nr, KC, size, simd) <=
                                      mm_band_cost(&pr, pr.parts, 0, mr, nr, KC, size, simd);
    }
    if (pr.batch * pr.parts < pr.nt) pr.nt = (int)(pr.batch * pr.parts);
    switch (dtype) {
        case TL_F16: case TL_BF16:
        case TL_F32: return MM_PICK(mm_run_f32, (&pr, c, a, b));
        case TL_F64: return MM_PICK(mm_run_f64, (&pr, c, a, b));
        default: return mm_run_i64_generic(&pr, c, a, b);
    }
}

/* ---- direct convolution (conv.c): the micro-kernel with B rows at per-row offsets ---- */

/* The tile of the direct-convolution kernels for dtype, or 0 when there are none (portable
 * build, other dtypes): *mr, *nr and the K block *kc (k cut into equal blocks of at most KC). */
int tl__conv_tile(int dtype, int64_t k, int64_t *mr, int64_t *nr, int64_t *kc) {
#ifdef TL_X86
    if ((dtype != TL_F32 && dtype != TL_F64) || !tl__simd) return 0;
    const int64_t size = dtype == TL_F32 ? 4 : 8;
    const int64_t KC = size == 4 ? (tl__simd >= 2 ? TL_MM_KC_F32_X : TL_MM_KC_F32)
                                 : (tl__simd >= 2 ? TL_MM_KC_F64_X : TL_MM_KC_F64);
    const int64_t nk = mm_ceil(k, KC);
    *mr = tl__simd >= 2 ? TL_MM_MR_X : TL_MM_MR;
    *nr = (tl__simd >= 2 ? 128 : 64) / size;
    *kc = nk ? mm_ceil(k, nk) : 1;
    return 1;
#else
    (void)dtype; (void)k; (void)mr; (void)nr; (void)kc;
    return 0;
#endif
}

#ifdef TL_X86
/* the AVX-512 or AVX2 build (tl__conv_tile said there is one) */
#define MM_CONV_PICK(name, args) (tl__simd >= 2 ? name##_avx512 args : name##_avx2 args)

/* pa = the weights A (m x k, row-major) packed for tl__conv_band, K blocks of kc */
void tl__conv_pack(int dtype, void *pa, const void *a, int64_t m, int64_t k, int64_t kc) {
    if (dtype == TL_F32) MM_CONV_PICK(mm_conv_pack_f32, ((float *)pa, (const float *)a, m, k, kc));
    else MM_CONV_PICK(mm_conv_pack_f64, ((double *)pa, (const double *)a, m, k, kc));
}

/* c (m x n, row stride ldc) = A @ B, B[p, q] = b[boff[p] + q] (see mm_conv_band_) */
void tl__conv_band(int dtype, void *c, int64_t ldc, const void *pa, const void *b,
                   const int64_t *boff, int64_t m, int64_t n, int64_t k, int64_t kc) {
    if (dtype == TL_F32)
        MM_CONV_PICK(mm_conv_band_f32, ((float *)c, ldc, (const float *)pa, (const float *)b,
                                      boff, m, n, k, kc));
    else
        MM_CONV_PICK(mm_conv_band_f64, ((double *)c, ldc, (const double *)pa,
                                      (const double *)b, boff, m, n, k, kc));
}

/* c (m x n, ldc) (+)= A @ B, A[i, q] = a[aoff[i] + q], B packed (see mm_conv_wgrad_) */
void tl__conv_wgrad(int dtype, void *c, int64_t ldc, const void *a, const int64_t *aoff,
                    const void *pb, int64_t m, int64_t n, int64_t k, int64_t kc, int acc) {
    if (dtype == TL_F32)
        MM_CONV_PICK(mm_conv_wgrad_f32, ((float *)c, ldc, (const float *)a, aoff,
                                         (const float *)pb, m, n, k, kc, acc));
    else
        MM_CONV_PICK(mm_conv_wgrad_f64, ((double *)c, ldc, (const double *)a, aoff,
                                         (const double *)pb, m, n, k, kc, acc));
}
#else
void tl__conv_wgrad(int dtype, void *c, int64_t ldc, const void *a, const int64_t *aoff,
                    const void *pb, int64_t m, int64_t n, int64_t k, int64_t kc, int acc) {
    (void)dtype; (void)c; (void)ldc; (void)a; (void)aoff; (void)pb; (void)m; (void)n; (void)k;
    (void)kc; (void)acc;
}
void tl__conv_pack(int dtype, void *pa, const void *a, int64_t m, int64_t k, int64_t kc) {
    (void)dtype; (void)pa; (void)a; (void)m; (void)k; (void)kc;
}
void tl__conv_band(int dtype, void *c, int64_t ldc, const void *pa, const void *b,
                   const int64_t *boff, int64_t m, int64_t n, int64_t k, int64_t kc) {
    (void)dtype; (void)c; (void)ldc; (void)pa; (void)b; (void)boff; (void)m; (void)n; (void)k;
    (void)kc;
}
#endif
