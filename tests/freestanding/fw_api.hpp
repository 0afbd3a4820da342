// The functions the two firmware-check translation units export to main.cpp.
#ifndef QSAFE_TESTS_FREESTANDING_FW_API_HPP_
#define QSAFE_TESTS_FREESTANDING_FW_API_HPP_

#include <cstddef>
#include <cstdint>

#include <qsafe/quantize.hpp>

#define QSAFE_RETURN_IF_ERROR_INT(expr)                                          \
  do {                                                                           \
    const ::qsafe::Status fw_status_ = (expr);                                   \
    if (fw_status_ != ::qsafe::Status::ok) return static_cast<int>(fw_status_);  \
  } while (0)

// quantizer_tu.cpp
int fw_quantize_u8(const float* x, std::size_t n, std::uint8_t* q, float* scale, std::int32_t* zero_point);
int fw_fake_quantize_s8_half_away(const float* x, std::size_t n, float* y);
int fw_quantize_int4_per_group(const float* x, std::int64_t rows, std::int64_t cols, std::int8_t* q,
                               qsafe::Range* ranges, qsafe::QParams* params, std::size_t groups);
int fw_dequantize_s16_per_channel(const std::int16_t* q, std::int64_t rows, std::int64_t cols,
                                  const qsafe::QParams* params, float* x);
std::int32_t fw_round_half_even(float x);
std::int32_t fw_round_half_away(float x);

// observers_kernels_tu.cpp (each returns 0 when the header it exercises is not there yet)
int fw_observe(const float* x, std::size_t n, qsafe::Range* range);
int fw_gemm_s8(const std::uint8_t* a, const std::int8_t* w, std::int64_t m, std::int64_t n, std::int64_t k,
               std::int8_t* c, std::byte* storage, std::size_t storage_size);
std::int32_t fw_requantize(std::int32_t acc);
int fw_conv_u8(const std::uint8_t* x, const std::int8_t* w, const std::int8_t* dw_w, std::uint8_t* y,
               std::uint8_t* dw_y, std::byte* storage, std::size_t storage_size, std::byte* workspace,
               std::size_t workspace_size);

#endif  // QSAFE_TESTS_FREESTANDING_FW_API_HPP_
