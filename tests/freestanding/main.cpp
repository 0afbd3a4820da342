// Firmware compile check: the entry point that ties the two translation units together, with every
// buffer in static storage (no heap). The program is linked, never run: the point is that it
// compiles and links with -fno-exceptions -fno-rtti for each target (scripts/ci/60-freestanding.sh).
#include <cstddef>
#include <cstdint>

#include "fw_api.hpp"

namespace {
float g_x[64];
float g_y[64];
std::uint8_t g_q8[64];
std::int8_t g_s8[64];
std::int16_t g_s16[64];
qsafe::Range g_ranges[8];
qsafe::QParams g_params[8];
std::uint8_t g_a[4 * 32];
std::int8_t g_w[8 * 32];
std::int8_t g_c[4 * 8];
alignas(64) std::byte g_packed[8192];
std::uint8_t g_img[8 * 8 * 4];
std::int8_t g_conv_w[4 * 4 * 3 * 3];
std::int8_t g_dw_w[4 * 3 * 3];
std::uint8_t g_conv_y[8 * 8 * 4];
std::uint8_t g_dw_y[8 * 8 * 4];
alignas(64) std::byte g_workspace[4096];
}  // namespace

int main() {
  for (int i = 0; i < 64; ++i) g_x[i] = static_cast<float>(i - 32) * 0.1f;
  float scale = 0.f;
  std::int32_t zero_point = 0;
  int rc = fw_quantize_u8(g_x, 64, g_q8, &scale, &zero_point);
  rc |= fw_fake_quantize_s8_half_away(g_x, 64, g_y);
  rc |= fw_quantize_int4_per_group(g_x, 4, 16, g_s8, g_ranges, g_params, 8);
  rc |= fw_dequantize_s16_per_channel(g_s16, 4, 16, g_params, g_y);
  rc |= fw_observe(g_x, 64, &g_ranges[0]);
  rc |= fw_gemm_s8(g_a, g_w, 4, 8, 32, g_c, g_packed, sizeof g_packed);
  rc |= fw_conv_u8(g_img, g_conv_w, g_dw_w, g_conv_y, g_dw_y, g_packed, sizeof g_packed, g_workspace,
                   sizeof g_workspace);
  return rc + static_cast<int>(fw_round_half_even(g_y[3]) + fw_round_half_away(g_y[5]) + fw_requantize(1234));
}
