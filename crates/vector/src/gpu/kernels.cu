// Kernels of aimdb's GPU search, compiled at run time by NVRTC (no CUDA toolkit at build time).
// Scores are row-major: one row per query, one column per stored vector.

#define CHUNK 1024

// Whether candidate a ranks before b: higher score first, then lower position; position -1
// (padding) ranks last among equals.
__device__ __forceinline__ bool better(float va, int ia, float vb, int ib) {
    return va > vb || (va == vb && (unsigned)ia < (unsigned)ib);
}

// Turns inner products into what the top-k selects: minus half the squared norm for L2
// (ranks as -|q - x|^2 / 2 up to a per-query constant), and -inf outside the probed lists
// and for removed rows.
extern "C" __global__ void adjust(float* scores, long long total, long long rows,
                                  const float* half_norms, int use_norms,
                                  const int* lists, const unsigned char* probed, int use_lists,
                                  int nlist, const unsigned char* alive, int use_alive) {
    const float neg_inf = __int_as_float(0xff800000);
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        long long q = e / rows;
        long long r = e - q * rows;
        float s = scores[e];
        if (use_norms) s -= half_norms[r];
        if (use_lists && !probed[q * nlist + lists[r]]) s = neg_inf;
        if (use_alive && !alive[r]) s = neg_inf;
        scores[e] = s;
    }
}

// One pass of the top-k: block (chunk, row) sorts CHUNK candidates of its row in shared
// memory (bitonic) and writes its k best to out[row][chunk * k ..]. Repeated until one
// chunk is left; exact, since a row's k best are among its chunks' k best.
extern "C" __global__ void topk_chunks(const float* vals, const int* idx, int has_idx,
                                       long long ncols, int k, float* out_vals, int* out_idx) {
    __shared__ float sv[CHUNK];
    __shared__ int si[CHUNK];
    const long long row = blockIdx.y;
    const long long base = (long long)blockIdx.x * CHUNK;
    const float* rv = vals + row * ncols;
    for (int t = threadIdx.x; t < CHUNK; t += blockDim.x) {
        long long c = base + t;
        if (c < ncols) {
            sv[t] = rv[c];
            si[t] = has_idx ? idx[row * ncols + c] : (int)c;
        } else {
            sv[t] = __int_as_float(0xff800000);
            si[t] = -1;
        }
    }
    __syncthreads();
    for (int size = 2; size <= CHUNK; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int t = threadIdx.x; t < CHUNK / 2; t += blockDim.x) {
                int i = 2 * t - (t & (stride - 1));
                int j = i + stride;
                float vi = sv[i], vj = sv[j];
                int ii = si[i], ij = si[j];
                bool swap = ((i & size) == 0) ? better(vj, ij, vi, ii) : better(vi, ii, vj, ij);
                if (swap) {
                    sv[i] = vj; sv[j] = vi;
                    si[i] = ij; si[j] = ii;
                }
            }
            __syncthreads();
        }
    }
    const long long out = (row * gridDim.x + blockIdx.x) * k;
    for (int t = threadIdx.x; t < k; t += blockDim.x) {
        out_vals[out + t] = sv[t];
        out_idx[out + t] = si[t];
    }
}
