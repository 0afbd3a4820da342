// qsafe/core/span.hpp: a minimal non-owning contiguous view (C++17 has no std::span).
#ifndef QSAFE_CORE_SPAN_HPP_
#define QSAFE_CORE_SPAN_HPP_

#include <cstddef>
#include <type_traits>
#include <utility>

#include "qsafe/config.hpp"

namespace qsafe {

template <class T>
class Span {
 public:
  using element_type = T;
  using value_type = std::remove_cv_t<T>;

  constexpr Span() noexcept = default;
  constexpr Span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
  template <std::size_t N>
  constexpr Span(T (&array)[N]) noexcept : data_(array), size_(N) {}  // NOLINT: implicit by design
  // Span<T> -> Span<const T>
  template <class U, class = std::enable_if_t<std::is_convertible<U (*)[], T (*)[]>::value>>
  constexpr Span(const Span<U>& other) noexcept : data_(other.data()), size_(other.size()) {}  // NOLINT
  // Any contiguous container with data() and size() (std::vector, std::array, ...).
  template <class C, class = std::enable_if_t<!std::is_array<std::remove_reference_t<C>>::value &&
                                              std::is_convertible<decltype(std::declval<C&>().data()), T*>::value>>
  constexpr Span(C& c) noexcept : data_(c.data()), size_(c.size()) {}  // NOLINT: implicit by design

  constexpr T* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr T& operator[](std::size_t i) const noexcept {
    QSAFE_DCHECK(i < size_);
    return data_[i];
  }
  constexpr T* begin() const noexcept { return data_; }
  constexpr T* end() const noexcept { return data_ + size_; }
  constexpr Span subspan(std::size_t offset, std::size_t count) const noexcept {
    QSAFE_DCHECK(offset <= size_ && count <= size_ - offset);
    return Span(data_ + offset, count);
  }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

template <class T>
constexpr Span<const T> as_const(Span<T> s) noexcept {
  return Span<const T>(s.data(), s.size());
}

}  // namespace qsafe

#endif  // QSAFE_CORE_SPAN_HPP_
