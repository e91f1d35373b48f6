// One GRU layer's recurrence, forward and backward, as two CPU ops (registered as
// torch.ops.seq2seq_gru.*). nn.GRU runs ~10 ATen ops per time step forward and ~20 autograd
// nodes backward; at the chapter's sizes (batch 64, hidden 64) each costs more in dispatch
// than in arithmetic. Here a step is one matrix product plus one fused loop over the gates,
// and the weight gradients are one matrix product over all steps after the loop.
//
// The maths is nn.GRU's (PyTorch's CPU cell, same order of operations):
//   r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n),
//   h' = (h - n) * z + n,     with gi = x W_ih^T + b_ih (given), gh = h W_hh^T + b_hh.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <cstring>
#include <tuple>

// The BLAS that libtorch_cpu carries (MKL on x86): called directly, a 64x64 product skips
// the dispatcher and the tensor bookkeeping of at::addmm, a third of its cost at this size.
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                       const float* beta, float* c, const int* ldc);

namespace {

// Row-major C (rows x cols) += A (rows x inner) * op(W), where op(W) = W^T for W (cols x inner)
// (forward: h W_hh^T) or W for W (inner x cols) (backward: d_gh W_hh). Column-major BLAS sees
// the transposes, so C^T = op(W)^T A^T.
void matmul_accumulate(const float* a, const float* w, float* c, int rows, int inner, int cols,
                       bool transpose_w) {
  const float one = 1.f;
  const char wt = transpose_w ? 'T' : 'N', at = 'N';
  const int ldw = transpose_w ? inner : cols;
  sgemm_(&wt, &at, &cols, &rows, &inner, &one, w, &ldw, a, &inner, &one, c, &cols);
}

inline float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

// Gates of one step for all rows; keeps r, z, n and gh_n (the workspace) for backward.
void gates_forward(const float* gi, const float* gh, const float* h, float* h_new, float* ws,
                   int64_t B, int64_t H) {
  for (int64_t b = 0; b < B; ++b) {
    const float* gi_b = gi + b * 3 * H;
    const float* gh_b = gh + b * 3 * H;
    const float* h_b = h + b * H;
    float* out_b = h_new + b * H;
    float* ws_b = ws + b * 4 * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const float r = sigmoid(gi_b[j] + gh_b[j]);
      const float z = sigmoid(gi_b[H + j] + gh_b[H + j]);
      const float n = std::tanh(gi_b[2 * H + j] + r * gh_b[2 * H + j]);
      out_b[j] = (h_b[j] - n) * z + n;
      ws_b[j] = r;
      ws_b[H + j] = z;
      ws_b[2 * H + j] = n;
      ws_b[3 * H + j] = gh_b[2 * H + j];
    }
  }
}

// Gradients of one step's gates: d_gi, d_gh (they differ in the n part only) and the
// direct part of the previous state's gradient; the part through W_hh is added by the caller.
// dh' is this step's output gradient plus `dh` (from the next step), which is then
// overwritten with dh' * z.
void gates_backward(const float* grad_out, float* dh, const float* h, const float* ws, float* d_gi,
                    float* d_gh, int64_t B, int64_t H) {
  for (int64_t b = 0; b < B; ++b) {
    const float* go_b = grad_out + b * H;
    float* dh_b = dh + b * H;
    const float* h_b = h + b * H;
    const float* ws_b = ws + b * 4 * H;
    float* dgi_b = d_gi + b * 3 * H;
    float* dgh_b = d_gh + b * 3 * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const float r = ws_b[j], z = ws_b[H + j], n = ws_b[2 * H + j], ghn = ws_b[3 * H + j];
      const float g = go_b[j] + dh_b[j];
      const float dn = g * (1.f - z) * (1.f - n * n);
      const float dz = g * (h_b[j] - n) * z * (1.f - z);
      const float dr = dn * ghn * r * (1.f - r);
      dgi_b[j] = dr;
      dgi_b[H + j] = dz;
      dgi_b[2 * H + j] = dn;
      dgh_b[j] = dr;
      dgh_b[H + j] = dz;
      dgh_b[2 * H + j] = dn * r;
      dh_b[j] = g * z;
    }
  }
}

void check_inputs(const at::Tensor& gi, const at::Tensor& h0, const at::Tensor& w_hh, const at::Tensor& b_hh) {
  for (const at::Tensor* t : {&gi, &h0, &w_hh, &b_hh})
    TORCH_CHECK(t->device().is_cpu() && t->scalar_type() == at::kFloat, "fused GRU: CPU float32 only");
  TORCH_CHECK(gi.dim() == 3 && h0.dim() == 2 && w_hh.dim() == 2 && b_hh.dim() == 1,
              "fused GRU: gi (T,B,3H), h0 (B,H), w_hh (3H,H), b_hh (3H)");
  const int64_t H = h0.size(1);
  TORCH_CHECK(gi.size(0) >= 1 && gi.size(1) == h0.size(0) && gi.size(2) == 3 * H && w_hh.size(0) == 3 * H &&
              w_hh.size(1) == H && b_hh.size(0) == 3 * H, "fused GRU: shapes do not match");
}

// gi (T, B, 3H), h0 (B, H), w_hh (3H, H), b_hh (3H) -> output (T, B, H), workspace (T, B, 4H)
std::tuple<at::Tensor, at::Tensor> gru_forward(const at::Tensor& gi_in, const at::Tensor& h0_in,
                                               const at::Tensor& w_hh, const at::Tensor& b_hh) {
  check_inputs(gi_in, h0_in, w_hh, b_hh);
  const at::Tensor gi = gi_in.contiguous(), h0 = h0_in.contiguous();
  const int64_t T = gi.size(0), B = gi.size(1), H = h0.size(1);
  at::Tensor out = at::empty({T, B, H}, gi.options());
  at::Tensor ws = at::empty({T, B, 4 * H}, gi.options());
  at::Tensor gh = at::empty({B, 3 * H}, gi.options());
  const at::Tensor w = w_hh.contiguous(), bias = b_hh.contiguous();
  float* gh_p = gh.data_ptr<float>();
  float* out_p = out.data_ptr<float>();
  for (int64_t t = 0; t < T; ++t) {
    const float* h = t == 0 ? h0.data_ptr<float>() : out_p + (t - 1) * B * H;
    for (int64_t b = 0; b < B; ++b)            // gh = b_hh + h W_hh^T
      std::memcpy(gh_p + b * 3 * H, bias.data_ptr<float>(), 3 * H * sizeof(float));
    matmul_accumulate(h, w.data_ptr<float>(), gh_p, B, H, 3 * H, true);
    gates_forward(gi.data_ptr<float>() + t * B * 3 * H, gh_p, h, out_p + t * B * H,
                  ws.data_ptr<float>() + t * B * 4 * H, B, H);
  }
  return {out, ws};
}

// grad_out (T, B, H) and the forward's tensors -> d_gi (T, B, 3H), d_h0 (B, H), d_w_hh, d_b_hh
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> gru_backward(
    const at::Tensor& grad_out_in, const at::Tensor& ws, const at::Tensor& out,
    const at::Tensor& h0_in, const at::Tensor& w_hh) {
  const int64_t T = out.size(0), B = out.size(1), H = out.size(2);
  TORCH_CHECK(grad_out_in.sizes() == out.sizes() && ws.size(0) == T && ws.size(1) == B && ws.size(2) == 4 * H &&
              ws.is_contiguous() && out.is_contiguous() && h0_in.size(0) == B && h0_in.size(1) == H &&
              w_hh.size(0) == 3 * H && w_hh.size(1) == H && grad_out_in.scalar_type() == at::kFloat,
              "fused GRU backward: tensors do not match the forward's");
  const at::Tensor grad_out = grad_out_in.contiguous(), h0 = h0_in.contiguous();
  at::Tensor d_gi = at::empty({T, B, 3 * H}, out.options());
  at::Tensor d_gh = at::empty({T, B, 3 * H}, out.options());
  at::Tensor dh = at::zeros({B, H}, out.options());        // gradient flowing into h_t from later steps
  const at::Tensor w = w_hh.contiguous();
  const float* out_p = out.data_ptr<float>();
  for (int64_t t = T - 1; t >= 0; --t) {
    const float* h = t == 0 ? h0.data_ptr<float>() : out_p + (t - 1) * B * H;
    float* d_gh_t = d_gh.data_ptr<float>() + t * B * 3 * H;
    gates_backward(grad_out.data_ptr<float>() + t * B * H, dh.data_ptr<float>(), h,
                   ws.data_ptr<float>() + t * B * 4 * H, d_gi.data_ptr<float>() + t * B * 3 * H,
                   d_gh_t, B, H);
    matmul_accumulate(d_gh_t, w.data_ptr<float>(), dh.data_ptr<float>(), B, 3 * H, H, false);
  }
  // Weight gradients once for all steps: sum_t d_gh_t^T h_{t-1}.
  const at::Tensor h_prev = at::cat({h0.unsqueeze(0), out.narrow(0, 0, T - 1)}, 0).view({T * B, H});
  const at::Tensor d_gh_flat = d_gh.view({T * B, 3 * H});
  return {d_gi, dh, at::mm(d_gh_flat.t(), h_prev), d_gh_flat.sum(0)};
}

}  // namespace

TORCH_LIBRARY(seq2seq_gru, m) {
  m.def("forward(Tensor gi, Tensor h0, Tensor w_hh, Tensor b_hh) -> (Tensor, Tensor)");
  m.def("backward(Tensor grad_out, Tensor ws, Tensor out, Tensor h0, Tensor w_hh) -> (Tensor, Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(seq2seq_gru, CPU, m) {
  m.impl("forward", gru_forward);
  m.impl("backward", gru_backward);
}
