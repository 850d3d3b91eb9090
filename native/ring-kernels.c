/*
 * Optional native ring kernels: C[m,n] = A[m,k] · B[k,n] over Z_2^64 (row-major uint64 words,
 * wrapping), for products with weight-sized or KV-cache-sized right operands.
 *
 * Built by scripts/build-native.mjs (cc -O3 -shared against Node's own N-API headers). When it is
 * missing, cannot be built, or the CPU has neither AVX-512 nor AVX2, the engine uses the
 * WebAssembly kernels (src/kernels/kernels.ts); a portable C loop would be no faster than those.
 *
 * Runtime dispatch (__builtin_cpu_supports): AVX-512 F+DQ (vpmullq, 8 lanes) or AVX2 (4 lanes,
 * the 64-bit product composed from three vpmuludq: lo·lo + (hi·lo + lo·hi)·2^32). `isa()` names
 * the one in use; `useIsa(name)` selects another this CPU supports (tests and benchmarks).
 *
 * Blocking: B is read in panels of PANEL = 32 columns. For up to 4 rows of A at a time, a panel's
 * partial sums stay in registers (AVX-512: 4 rows × 4 vectors) while the loop over k streams the
 * panel once, so a decode product (m = 1, 2) reads B exactly once and wider A (prefill) reuses
 * each panel row for 4 rows. B is either raw row-major (stride n; the last partial panel is
 * copied into a zero-padded buffer so no read passes the end of B) or packed by `packRows64`:
 * panel q holds its k rows of 32 words contiguously (zero-padded), so the stream is sequential.
 * Measured on this machine (AMD EPYC, AVX-512), [1,768]x[768,3072] with B cold, packed:
 * AVX-512 0.53 ms, AVX2 0.89 ms, the WebAssembly pinned kernel 0.72 ms — so kernels.ts uses this
 * addon by default only with AVX-512 (more shapes: bench/kernels.ts, README "Performance").
 *
 * N-API: every function reads and writes the BigUint64Arrays' own memory (no copies) and checks
 * its arguments (types, lengths, dimensions, overlap), throwing a RangeError instead of touching
 * memory out of bounds. Nothing here allocates JavaScript objects per call.
 */
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

#define PANEL 32
#define ROWS 4

/* c[r, 0..nc) = Σ_t a[r, t] · b[t, 0..PANEL) for r < mr (≤ ROWS); b rows `ldb` words apart. */
typedef void (*panel_fn)(const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb, uint64_t *c, size_t ldc, size_t mr,
                         size_t k, size_t nc);

#if HAVE_X86
__attribute__((target("avx512f,avx512dq"))) static inline void store512(uint64_t *c, __m512i v[PANEL / 8], size_t nc) {
  if (nc == PANEL) {
    for (int q = 0; q < PANEL / 8; q++) _mm512_storeu_si512((void *)(c + 8 * q), v[q]);
    return;
  }
  uint64_t tmp[PANEL] __attribute__((aligned(64)));
  for (int q = 0; q < PANEL / 8; q++) _mm512_store_si512((void *)(tmp + 8 * q), v[q]);
  memcpy(c, tmp, nc * sizeof(uint64_t));
}

__attribute__((target("avx512f,avx512dq"))) static inline __attribute__((always_inline)) void panel512_rows(
    const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb, uint64_t *c, size_t ldc, const size_t mr, size_t k,
    size_t nc) {
  __m512i acc[ROWS][PANEL / 8];
  for (size_t r = 0; r < ROWS; r++)
    for (int q = 0; q < PANEL / 8; q++) acc[r][q] = _mm512_setzero_si512();
  for (size_t t = 0; t < k; t++) {
    const uint64_t *bt = b + t * ldb;
    __m512i y[PANEL / 8];
    for (int q = 0; q < PANEL / 8; q++) y[q] = _mm512_loadu_si512((const void *)(bt + 8 * q));
    for (size_t r = 0; r < mr; r++) {
      const __m512i x = _mm512_set1_epi64((long long)a[r * lda + t]);
      for (int q = 0; q < PANEL / 8; q++) acc[r][q] = _mm512_add_epi64(acc[r][q], _mm512_mullo_epi64(x, y[q]));
    }
  }
  for (size_t r = 0; r < mr; r++) store512(c + r * ldc, acc[r], nc);
}

__attribute__((target("avx512f,avx512dq"))) static void panel512(const uint64_t *a, size_t lda, const uint64_t *b,
                                                                 size_t ldb, uint64_t *c, size_t ldc, size_t mr, size_t k,
                                                                 size_t nc) {
  /* Constant row counts so the compiler keeps every accumulator in a register. */
  switch (mr) {
  case 4: panel512_rows(a, lda, b, ldb, c, ldc, 4, k, nc); break;
  case 3: panel512_rows(a, lda, b, ldb, c, ldc, 3, k, nc); break;
  case 2: panel512_rows(a, lda, b, ldb, c, ldc, 2, k, nc); break;
  default: panel512_rows(a, lda, b, ldb, c, ldc, 1, k, nc); break;
  }
}

/*
 * AVX2 has no 64-bit lane product: x·y mod 2^64 = x_lo·y_lo + (x_hi·y_lo + x_lo·y_hi)·2^32, three
 * vpmuludq. The shift is linear mod 2^64, so the low products and the cross products are summed
 * in separate accumulators and combined once per panel: 3 products and 3 additions per lane.
 * AVX2 has 16 vector registers: a panel is done in halves of 16 columns, 2 rows at a time.
 */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) void half256_rows(
    const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb, uint64_t *c, size_t ldc, const size_t mr, size_t k,
    size_t nc) {
  __m256i lo[2][4], cross[2][4];
  for (int r = 0; r < 2; r++)
    for (int q = 0; q < 4; q++) lo[r][q] = cross[r][q] = _mm256_setzero_si256();
  for (size_t t = 0; t < k; t++) {
    const uint64_t *bt = b + t * ldb;
    __m256i y[4], yhi[4];
    for (int q = 0; q < 4; q++) {
      y[q] = _mm256_loadu_si256((const __m256i *)(bt + 4 * q));
      yhi[q] = _mm256_srli_epi64(y[q], 32);
    }
    for (size_t r = 0; r < mr; r++) {
      const uint64_t xs = a[r * lda + t];
      const __m256i x = _mm256_set1_epi64x((long long)xs), xhi = _mm256_set1_epi64x((long long)(xs >> 32));
      for (int q = 0; q < 4; q++) {
        lo[r][q] = _mm256_add_epi64(lo[r][q], _mm256_mul_epu32(x, y[q]));
        cross[r][q] = _mm256_add_epi64(cross[r][q], _mm256_add_epi64(_mm256_mul_epu32(xhi, y[q]), _mm256_mul_epu32(x, yhi[q])));
      }
    }
  }
  for (size_t r = 0; r < mr; r++) {
    uint64_t tmp[16] __attribute__((aligned(32)));
    for (int q = 0; q < 4; q++)
      _mm256_store_si256((__m256i *)(tmp + 4 * q), _mm256_add_epi64(lo[r][q], _mm256_slli_epi64(cross[r][q], 32)));
    memcpy(c + r * ldc, tmp, nc * sizeof(uint64_t));
  }
}

__attribute__((target("avx2"))) static void panel256(const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb,
                                                     uint64_t *c, size_t ldc, size_t mr, size_t k, size_t nc) {
  for (size_t r0 = 0; r0 < mr; r0 += 2) {
    const size_t rows = mr - r0 < 2 ? mr - r0 : 2;
    for (size_t h = 0; h < PANEL && h < nc; h += 16) {
      const size_t cols = nc - h < 16 ? nc - h : 16;
      if (rows == 2) half256_rows(a + r0 * lda, lda, b + h, ldb, c + r0 * ldc + h, ldc, 2, k, cols);
      else half256_rows(a + r0 * lda, lda, b + h, ldb, c + r0 * ldc + h, ldc, 1, k, cols);
    }
  }
}
#endif

static panel_fn panel = NULL;
static const char *isa_name = "none";

static bool cpu_has(const char *name) {
#if HAVE_X86
  __builtin_cpu_init();
  if (strcmp(name, "avx512") == 0) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  if (strcmp(name, "avx2") == 0) return __builtin_cpu_supports("avx2");
#else
  (void)name;
#endif
  return false;
}

static bool use_isa(const char *name) {
  if (!cpu_has(name)) return false;
#if HAVE_X86
  if (strcmp(name, "avx512") == 0) {
    panel = panel512;
    isa_name = "avx512";
  } else {
    panel = panel256;
    isa_name = "avx2";
  }
#endif
  return true;
}

/* C = A·B with B's panels at b + q·panel_stride, rows ldb words apart (raw: ldb = n, stride 32). */
static void matmul_panels(const uint64_t *a, const uint64_t *b, size_t ldb, size_t panel_stride, uint64_t *c, size_t m,
                          size_t k, size_t n, size_t panels) {
  for (size_t q = 0; q < panels; q++) {
    const size_t nc = n - q * PANEL < PANEL ? n - q * PANEL : PANEL;
    for (size_t i0 = 0; i0 < m; i0 += ROWS) {
      const size_t mr = m - i0 < ROWS ? m - i0 : ROWS;
      panel(a + i0 * k, k, b + q * panel_stride, ldb, c + i0 * n + q * PANEL, n, mr, k, nc);
    }
  }
}

/* Writes rows [start, start + count) of B (row-major [count, n]) into the packed layout. */
static void pack_rows(const uint64_t *rows, uint64_t *p, size_t start, size_t count, size_t k, size_t n) {
  const size_t panels = (n + PANEL - 1) / PANEL;
  for (size_t q = 0; q < panels; q++) {
    const size_t nc = n - q * PANEL < PANEL ? n - q * PANEL : PANEL;
    for (size_t t = 0; t < count; t++) {
      uint64_t *dst = p + (q * k + start + t) * PANEL;
      memcpy(dst, rows + t * n + q * PANEL, nc * sizeof(uint64_t));
      if (nc < PANEL) memset(dst + nc, 0, (PANEL - nc) * sizeof(uint64_t));
    }
  }
}

/* ------------------------------------------------------------------ N-API glue */

static napi_value fail(napi_env env, const char *message) {
  napi_throw_range_error(env, NULL, message);
  return NULL;
}

/* fail() with "<name>: <detail>". */
static napi_value fail_in(napi_env env, const char *name, const char *detail) {
  char message[160];
  snprintf(message, sizeof(message), "%s: %s", name, detail);
  return fail(env, message);
}

/* The words of a BigUint64Array argument (*ok = false if it is not one). */
static uint64_t *words_of(napi_env env, napi_value value, size_t *length, bool *ok) {
  bool is_typed = false;
  napi_typedarray_type type;
  void *data = NULL;
  *ok = napi_is_typedarray(env, value, &is_typed) == napi_ok && is_typed &&
        napi_get_typedarray_info(env, value, &type, length, &data, NULL, NULL) == napi_ok && type == napi_biguint64_array;
  return (uint64_t *)data;
}

/* A dimension argument: an integer in [0, 2^31). */
static bool dim_of(napi_env env, napi_value value, size_t *out) {
  double x = -1;
  if (napi_get_value_double(env, value, &x) != napi_ok) return false;
  if (!(x >= 0 && x < 2147483648.0) || x != (double)(size_t)x) return false;
  *out = (size_t)x;
  return true;
}

static bool overlaps(const uint64_t *x, size_t nx, const uint64_t *y, size_t ny) {
  return nx != 0 && ny != 0 && x < y + ny && y < x + nx;
}

static size_t packed_words(size_t k, size_t n) { return k * ((n + PANEL - 1) / PANEL) * PANEL; }

#define MAX_ARGS 6
typedef struct {
  size_t argc;
  napi_value argv[MAX_ARGS];
} args_t;

static bool get_args(napi_env env, napi_callback_info info, args_t *args, size_t expected) {
  args->argc = MAX_ARGS;
  return napi_get_cb_info(env, info, &args->argc, args->argv, NULL, NULL) == napi_ok && args->argc == expected;
}

/* matmul64(a, b, c, m, k, n) / matmulPacked64(a, p, c, m, k, n): c = a · b over Z_2^64. */
static napi_value matmul_common(napi_env env, napi_callback_info info, bool packed) {
  const char *name = packed ? "matmulPacked64" : "matmul64";
  args_t args;
  if (!get_args(env, info, &args, 6)) return fail_in(env, name, packed ? "expected (a, p, c, m, k, n)" : "expected (a, b, c, m, k, n)");
  if (panel == NULL) return fail_in(env, name, "this CPU has neither AVX-512 nor AVX2");
  size_t la = 0, lb = 0, lc = 0, m = 0, k = 0, n = 0;
  bool oka, okb, okc;
  const uint64_t *a = words_of(env, args.argv[0], &la, &oka);
  const uint64_t *b = words_of(env, args.argv[1], &lb, &okb);
  uint64_t *c = words_of(env, args.argv[2], &lc, &okc);
  if (!oka || !okb || !okc) return fail_in(env, name, "the three operands must be BigUint64Arrays");
  if (!dim_of(env, args.argv[3], &m) || !dim_of(env, args.argv[4], &k) || !dim_of(env, args.argv[5], &n))
    return fail_in(env, name, "m, k, n must be integers in [0, 2^31)");
  const size_t wb = packed ? packed_words(k, n) : k * n;
  if (la != m * k || lb != wb || lc != m * n) return fail_in(env, name, "operand lengths do not match m, k, n");
  if (overlaps(c, lc, a, la) || overlaps(c, lc, b, lb)) return fail_in(env, name, "c must not overlap the other operands");
  if (m * n == 0) return NULL;
  if (k == 0) {
    memset(c, 0, m * n * sizeof(uint64_t));
    return NULL;
  }
  const size_t panels = (n + PANEL - 1) / PANEL;
  if (packed) {
    matmul_panels(a, b, PANEL, k * PANEL, c, m, k, n, panels);
    return NULL;
  }
  /* Raw B: whole panels in place (rows n words apart); the last partial panel through a zero-padded copy. */
  const size_t full = n / PANEL;
  matmul_panels(a, b, n, PANEL, c, m, k, n, full);
  if (full < panels) {
    const size_t nc = n - full * PANEL;
    uint64_t *tail = calloc(k * PANEL, sizeof(uint64_t));
    if (tail == NULL) return fail_in(env, name, "out of memory");
    for (size_t t = 0; t < k; t++) memcpy(tail + t * PANEL, b + t * n + full * PANEL, nc * sizeof(uint64_t));
    for (size_t i0 = 0; i0 < m; i0 += ROWS) {
      const size_t mr = m - i0 < ROWS ? m - i0 : ROWS;
      panel(a + i0 * k, k, tail, PANEL, c + i0 * n + full * PANEL, n, mr, k, nc);
    }
    free(tail);
  }
  return NULL;
}

static napi_value matmul64(napi_env env, napi_callback_info info) { return matmul_common(env, info, false); }
static napi_value matmul_packed64(napi_env env, napi_callback_info info) { return matmul_common(env, info, true); }

/* packRows64(rows, p, start, k, n): packs rows [start, start + rows.length / n) of a [k, n] B. */
static napi_value pack_rows64(napi_env env, napi_callback_info info) {
  args_t args;
  if (!get_args(env, info, &args, 5)) return fail(env, "packRows64: expected (rows, p, start, k, n)");
  size_t lr = 0, lp = 0, start = 0, k = 0, n = 0;
  bool okr, okp;
  const uint64_t *rows = words_of(env, args.argv[0], &lr, &okr);
  uint64_t *p = words_of(env, args.argv[1], &lp, &okp);
  if (!okr || !okp) return fail(env, "packRows64: rows and p must be BigUint64Arrays");
  if (!dim_of(env, args.argv[2], &start) || !dim_of(env, args.argv[3], &k) || !dim_of(env, args.argv[4], &n))
    return fail(env, "packRows64: start, k, n must be integers in [0, 2^31)");
  if (lp != packed_words(k, n)) return fail(env, "packRows64: p has the wrong length for [k, n]");
  if (n == 0) return NULL;
  if (lr % n != 0 || start + lr / n > k) return fail(env, "packRows64: the rows do not fit the matrix");
  if (overlaps(rows, lr, p, lp)) return fail(env, "packRows64: rows must not overlap p");
  pack_rows(rows, p, start, lr / n, k, n);
  return NULL;
}

/* unpack64(p, b, k, n): the row-major [k, n] words of a packed matrix. */
static napi_value unpack64(napi_env env, napi_callback_info info) {
  args_t args;
  if (!get_args(env, info, &args, 4)) return fail(env, "unpack64: expected (p, b, k, n)");
  size_t lp = 0, lb = 0, k = 0, n = 0;
  bool okp, okb;
  const uint64_t *p = words_of(env, args.argv[0], &lp, &okp);
  uint64_t *b = words_of(env, args.argv[1], &lb, &okb);
  if (!okp || !okb) return fail(env, "unpack64: p and b must be BigUint64Arrays");
  if (!dim_of(env, args.argv[2], &k) || !dim_of(env, args.argv[3], &n)) return fail(env, "unpack64: k, n must be integers in [0, 2^31)");
  if (lp != packed_words(k, n) || lb != k * n) return fail(env, "unpack64: lengths do not match [k, n]");
  if (overlaps(p, lp, b, lb)) return fail(env, "unpack64: b must not overlap p");
  const size_t panels = (n + PANEL - 1) / PANEL;
  for (size_t q = 0; q < panels; q++) {
    const size_t nc = n - q * PANEL < PANEL ? n - q * PANEL : PANEL;
    for (size_t t = 0; t < k; t++) memcpy(b + t * n + q * PANEL, p + (q * k + t) * PANEL, nc * sizeof(uint64_t));
  }
  return NULL;
}

/* packedWords(k, n): the length of a packed [k, n] matrix. */
static napi_value packed_words64(napi_env env, napi_callback_info info) {
  args_t args;
  size_t k = 0, n = 0;
  if (!get_args(env, info, &args, 2) || !dim_of(env, args.argv[0], &k) || !dim_of(env, args.argv[1], &n))
    return fail(env, "packedWords: expected (k, n), integers in [0, 2^31)");
  napi_value out;
  napi_create_double(env, (double)packed_words(k, n), &out);
  return out;
}

static napi_value isa(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_string_utf8(env, isa_name, NAPI_AUTO_LENGTH, &out);
  return out;
}

/* useIsa(name): selects "avx512" or "avx2" if this CPU has it; returns whether it did. */
static napi_value use_isa_js(napi_env env, napi_callback_info info) {
  args_t args;
  char name[16] = {0};
  size_t len = 0;
  if (!get_args(env, info, &args, 1) || napi_get_value_string_utf8(env, args.argv[0], name, sizeof(name), &len) != napi_ok)
    return fail(env, "useIsa: expected a name (\"avx512\" or \"avx2\")");
  if (strcmp(name, "avx512") != 0 && strcmp(name, "avx2") != 0) return fail(env, "useIsa: expected \"avx512\" or \"avx2\"");
  napi_value out;
  napi_get_boolean(env, use_isa(name), &out);
  return out;
}

NAPI_MODULE_INIT() {
  if (!use_isa("avx512")) use_isa("avx2");
  napi_property_descriptor props[] = {
      {"matmul64", NULL, matmul64, NULL, NULL, NULL, napi_enumerable, NULL},
      {"matmulPacked64", NULL, matmul_packed64, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packRows64", NULL, pack_rows64, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unpack64", NULL, unpack64, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packedWords", NULL, packed_words64, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isa", NULL, isa, NULL, NULL, NULL, napi_enumerable, NULL},
      {"useIsa", NULL, use_isa_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
