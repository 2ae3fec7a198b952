"""The compiled kernel of :mod:`ddd.analysis.bitcount` (imports numba: import it only when counting)."""

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic


@intrinsic
def _popcount(typingctx, x):
    """LLVM's ``ctpop`` of a uint64 (one POPCNT instruction, vectorised where the CPU has it)."""
    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])
    return types.uint64(types.uint64), codegen


@njit(parallel=True, cache=True, boundscheck=False, nogil=True)
def gram(x, out):
    """Upper triangle (and a few entries below it) of ``popcount(x[a] & x[b])``: x uint64 (M, W), out int64 (M, M)."""
    m, w = x.shape
    blocks = (m + 3) // 4
    for t in prange(blocks):
        bi = t // 2 if t % 2 == 0 else blocks - 1 - t // 2  # short and long rows of the triangle alternate
        i0 = bi * 4
        if i0 + 4 <= m:
            for j in range(i0, m):  # 4 rows a in registers against each row b
                s0 = np.uint64(0)
                s1 = np.uint64(0)
                s2 = np.uint64(0)
                s3 = np.uint64(0)
                for k in range(w):
                    v = x[j, k]
                    s0 += _popcount(x[i0, k] & v)
                    s1 += _popcount(x[i0 + 1, k] & v)
                    s2 += _popcount(x[i0 + 2, k] & v)
                    s3 += _popcount(x[i0 + 3, k] & v)
                out[i0, j] = s0
                out[i0 + 1, j] = s1
                out[i0 + 2, j] = s2
                out[i0 + 3, j] = s3
        else:
            for i in range(i0, m):
                for j in range(i, m):
                    s = np.uint64(0)
                    for k in range(w):
                        s += _popcount(x[i, k] & x[j, k])
                    out[i, j] = s
