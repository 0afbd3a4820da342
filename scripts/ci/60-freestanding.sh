#!/usr/bin/env bash
# Firmware compile checks (compile and link, never run): tests/freestanding/ builds the core umbrella
# <qsafe/quantize.hpp> (plus observers, fixed-point and the GEMM's scalar path as they land) in two
# translation units linked together, with -fno-exceptions -fno-rtti and -Werror, for
#   x86-64     g++
#   aarch64    aarch64-linux-gnu-g++
#   Cortex-M4  arm-none-eabi-g++ -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 (newlib)
# and then checks the objects' undefined symbols: no libm rounding call (lroundf & co. are library
# calls on Cortex-M4; core/rounding.hpp rounds by hand), no heap (malloc, operator new), no
# exception machinery. -Wdouble-promotion is reported (double math is soft-float on an M4) but does
# not fail the stage. QSAFE_FW_TARGETS="x86_64 aarch64 cortex-m4" selects targets.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/freestanding
src=tests/freestanding
targets=${QSAFE_FW_TARGETS:-x86_64 aarch64 cortex-m4}
common=(-std=c++17 -Wall -Wextra -Wpedantic -Werror -Wdouble-promotion -Wno-error=double-promotion
        -fno-exceptions -fno-rtti -Iinclude)
# Rounding functions of libm (float, double and long double forms) the core must never call.
forbidden_libm='^_?(l?l?round|l?l?rint|nearbyint|floor|ceil|trunc)[fl]?$'
forbidden_heap='^(malloc|calloc|realloc|free|aligned_alloc|posix_memalign|_Znw[mj]|_Zna[mj]|_ZnwmSt11align_val_t|_ZnwjSt11align_val_t|_Zdl.*|_Zda.*)$'
forbidden_eh='^(__cxa_throw|__cxa_allocate_exception|__cxa_begin_catch|__gxx_personality_v0|_Unwind_Resume)$'
status=0
for t in $targets; do
  case $t in
    x86_64)    cxx=g++; nm=nm; size=size; flags=(); link=() ;;
    aarch64)   cxx=aarch64-linux-gnu-g++; nm=aarch64-linux-gnu-nm; size=aarch64-linux-gnu-size; flags=(); link=() ;;
    cortex-m4) cxx=arm-none-eabi-g++; nm=arm-none-eabi-nm; size=arm-none-eabi-size
               flags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16); link=(--specs=nosys.specs) ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  for opt in -O2 -Os; do
    dir=$out/$t$opt; mkdir -p "$dir"
    objs=()
    for f in "$src"/*.cpp; do
      o=$dir/$(basename "$f" .cpp).o
      "$cxx" "${common[@]}" "${flags[@]}" "$opt" -c "$f" -o "$o" 2> "$o.log" || { cat "$o.log"; exit 1; }
      objs+=("$o")
    done
    "$cxx" "${flags[@]}" "$opt" "${objs[@]}" "${link[@]}" -o "$dir/fw.elf"
    undefined=$("$nm" -u "${objs[@]}" | awk 'NF >= 2 {print $NF}' | sort -u)
    bad_libm=$(grep -E "$forbidden_libm" <<<"$undefined" || true)
    bad_heap=$(grep -E "$forbidden_heap" <<<"$undefined" || true)
    bad_eh=$(grep -E "$forbidden_eh" <<<"$undefined" || true)
    promos=$(cat "$dir"/*.o.log | grep -c "Wdouble-promotion" || true)
    core_text=$("$size" "$dir/quantizer_tu.o" "$dir/observers_kernels_tu.o" | awk 'NR > 1 {s += $1} END {print s}')
    printf '%-10s %-3s linked; .text of the two core TUs %6d bytes; double promotions: %s\n' \
      "$t" "$opt" "$core_text" "$promos"
    if [ "$t" = cortex-m4 ] && [ "$opt" = -O2 ]; then
      # Informational: soft-float double helpers and libm functions the M4 build pulls in, per TU.
      for o in "${objs[@]}"; do
        u=$("$nm" -u "$o" | awk 'NF >= 2 {print $NF}' | sort -u)
        printf '  %-24s soft-double helpers: %2d; libm: %s\n' "$(basename "$o")" \
          "$(grep -c '^__aeabi_d' <<<"$u" || true)" \
          "$(grep -Ev '^(__|_Z|mem|main$)' <<<"$u" | tr '\n' ' ')"
      done
    fi
    for kind in libm heap eh; do
      var=bad_$kind
      if [ -n "${!var}" ]; then
        echo "  FORBIDDEN ($kind) calls in $t$opt objects: $(tr '\n' ' ' <<<"${!var}")"
        status=1
      fi
    done
  done
done
if [ -n "$(cat "$out"/*/*.o.log 2>/dev/null)" ]; then
  echo "double-promotion sites (informational):"
  cat "$out"/*/*.o.log | grep "Wdouble-promotion" | sed -E 's/: (warning|error):.*//' | sort | uniq -c
fi
exit $status
