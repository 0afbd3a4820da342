// qsafe-qparams: prints the range an observer finds in a .npy tensor and the scale / zero point
// qsafe derives from it, as JSON. All logic is in qparams_cli.hpp (tested in tests/tools/).
#include <iostream>
#include <string>
#include <vector>

#include "qparams_cli.hpp"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return qsafe::cli::run(args, std::cout, std::cerr);
}
