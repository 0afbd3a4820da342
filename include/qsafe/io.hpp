// qsafe/io.hpp: the host-side file umbrella (.npy arrays, model manifests). Everything here may
// allocate and throws an exception type derived from std::runtime_error whose message names the
// file and the problem. Not for firmware: use qsafe/quantize.hpp there.
#ifndef QSAFE_IO_HPP_
#define QSAFE_IO_HPP_

#include "qsafe/io/manifest.hpp"
#include "qsafe/io/npy.hpp"

#endif  // QSAFE_IO_HPP_
