// qsafe-report: which int8 configuration to ship, what it costs on the worst inputs, which layers
// are to blame, and whether a dynamic policy can collapse - as a terminal table, a self-contained
// HTML page and a JSON file with every number (docs/report.md).
//
//   qsafe-report --model DIR/model.txt --calib CALIB.npy --test X.npy --labels Y.npy
//                [--groups builtin|DIR] [--configs LIST] [--out report.html] [--json report.json] [--seed N]
//
// Flow: parse the command line (report_inputs.hpp) -> load and check every input file -> run the
// analyses on qsafe's NnEngine (report_run.hpp) -> render JSON and HTML (json_writer.hpp,
// html_writer.hpp) -> write both atomically -> print the summary (terminal.hpp).
// Exit status: 0 done; 1 a bad input file or a failed analysis; 2 a bad command line. Every
// error is one line on stderr naming the file (or option) and the problem.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "html_writer.hpp"
#include "json_writer.hpp"
#include "qsafe/analysis/nn_engine.hpp"
#include "report_inputs.hpp"
#include "report_run.hpp"
#include "terminal.hpp"

int main(int argc, char** argv) {
  using namespace qsafe_report;
  try {
    const Options opt = parse_args(std::vector<std::string>(argv + 1, argv + argc));
    if (opt.help) {
      std::fputs(usage_text(), stdout);
      return 0;
    }
    RunOptions ro;
    ro.configs = parse_config_list(opt.configs);
    ro.seed = opt.seed;
    ro.threshold = opt.threshold;
    Progress progress(!opt.quiet);
    progress.step("load", opt.model);
    Inputs in = load_inputs(opt);
    progress.done();

    qsafe::analysis::NnEngine engine(in.model);
    Runner runner(engine, in, opt, ro, progress);
    const Report report = runner.run();

    write_outputs({{opt.json, report_json(report)}, {opt.out, report_html(report)}});
    print_summary(report, stdout);
    std::printf("\nHTML report: %s\nJSON report: %s\n", opt.out.c_str(), opt.json.c_str());
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "qsafe-report: %s\n", e.what());
    return 2;
  } catch (const InputError& e) {
    std::fprintf(stderr, "qsafe-report: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qsafe-report: %s\n", e.what());
    return 1;
  }
}
