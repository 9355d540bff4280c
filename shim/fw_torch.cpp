// fw_torch.cpp - the C API of fw_torch.h over libtorch (TorchScript load, freeze/optimise,
// forward).
//
// The only C++ in framewire. Every extern "C" entry point runs its body inside FWT_PROTECT, which
// catches c10::Error, std::exception and anything else and turns it into a one-line message in
// the caller's buffer: no exception and no tensor ever crosses the C boundary.
//
// libtorch facts this file relies on (Debian's libtorch 1.13, see docs/design.md section 5):
// - torch::jit::optimize_for_inference() freezes first and then makes CPU graphs about 10x
//   faster (MKLDNN conversions); its CPU-specific rewrites are no use on other devices, where we
//   only freeze (freezing also folds conv/batch-norm and other constants).
// - Optimised graphs can emit a c10 warning on every forward, which the default handler sends to
//   glog. c10's warning handler is per thread, so every entry point installs ours with a
//   WarningHandlerGuard; it prints each distinct warning once.
// - c10::Error::what() carries a C++ backtrace; we use what_without_backtrace(). Errors raised
//   inside the TorchScript interpreter are multi-line (a TorchScript traceback, then the real
//   error on the last line): the message is condensed to that line.
// - optimize_for_inference can change results: in libtorch 1.13 on an AVX-512 CPU, its MKLDNN
//   hardswish/hardsigmoid rewrites give wrong outputs (errors of 0.1-0.3 on values below 1) when
//   the channel count is not a multiple of 16 (e.g. MobileNetV3's squeeze-excitation blocks).
//   So the first probe runs the optimised and the merely frozen model on the same pseudo-random
//   input and keeps the frozen one, with a warning, when they disagree.

#include <torch/script.h>
#include <torch/csrc/api/include/torch/version.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

// The library is built with hidden visibility (shim/CMakeLists.txt), so libtorch's inline C++
// symbols stay private; the C API alone is exported.
#pragma GCC visibility push(default)
#include "fw_torch.h"
#pragma GCC visibility pop

struct fwt_model {
    torch::jit::Module module;
    c10::Device device;
    std::string device_name; // device.str(), e.g. "cpu", "cuda:0"
    // From an optimising CPU load until the first probe: the same model frozen but not
    // optimised, which the probe compares the optimised graph with (see fwt_model_probe).
    std::unique_ptr<torch::jit::Module> unoptimized;
};

namespace
{

// ---- error messages ---------------------------------------------------------------------------

// Appends src to err (already NUL-terminated, holding `used` chars), truncating at errlen.
size_t append(char *err, size_t errlen, size_t used, const char *src, size_t n)
{
    if (!err || errlen == 0 || used >= errlen - 1)
        return used;
    size_t room = errlen - 1 - used;
    if (n > room)
        n = room;
    std::memcpy(err + used, src, n);
    err[used + n] = '\0';
    return used + n;
}

// Writes a printf-style message into err. Never allocates. Safe with err NULL / errlen 0.
__attribute__((format(printf, 3, 4))) void set_errorf(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int r = std::vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (r < 0)
        err[0] = '\0';
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
}

// True when the line at p (up to end) starts like "RuntimeError: ..." or
// "torch.jit.Error: ...": a dotted name ending in "Error" or "Exception", then ':'.
bool looks_like_exception_line(const char *p, const char *end)
{
    const char *q = p;
    while (q < end && (std::isalnum((unsigned char)*q) || *q == '_' || *q == '.'))
        q++;
    if (q == p || q >= end || *q != ':')
        return false;
    size_t n = (size_t)(q - p);
    return (n >= 5 && std::strncmp(q - 5, "Error", 5) == 0) ||
           (n >= 9 && std::strncmp(q - 9, "Exception", 9) == 0);
}

// Writes "<context>: <what>" into err as one line. `what` is a libtorch message, possibly
// multi-line. A TorchScript interpreter error ("The following operation failed in the TorchScript
// interpreter.", two tracebacks of code lines marked "<--- HERE", then "RuntimeError: <reason>",
// which may itself span lines) is condensed to its reason: the text from the first line after the
// last "<--- HERE" that starts like "SomeError:", else from the first unindented line there (the
// serialized code of a traced module can hold unindented "class ...:" lines before the reason,
// and a traced module adds an "original code" traceback). A C++ backtrace ("Exception raised from
// ...") is cut off. Line breaks become spaces. Never allocates.
void set_error_from(char *err, size_t errlen, const char *context, const char *what)
{
    if (!err || errlen == 0)
        return;
    err[0] = '\0';
    if (!what || !*what)
        what = "unknown error";
    const char *end = what + std::strlen(what);
    if (const char *bt = std::strstr(what, "Exception raised from "))
        end = bt;
    if (std::strstr(what, "The following operation failed in the TorchScript interpreter")) {
        const char *here = nullptr;
        for (const char *p = what; (p = std::strstr(p, "<--- HERE")) && p < end; p++)
            here = p;
        const char *reason = nullptr;
        if (here) {
            for (const char *line = std::strchr(here, '\n'); line && line + 1 < end;
                 line = std::strchr(line + 1, '\n')) {
                if (looks_like_exception_line(line + 1, end)) {
                    reason = line + 1;
                    break;
                }
            }
        }
        if (here && !reason) {
            for (const char *line = std::strchr(here, '\n'); line && line + 1 < end;
                 line = std::strchr(line + 1, '\n')) {
                char c = line[1];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                    reason = line + 1;
                    break;
                }
            }
        }
        if (!reason) { // unexpected layout: fall back to the last non-empty line
            const char *line_end = end;
            while (line_end > what && std::strchr("\n\r ", line_end[-1]))
                line_end--;
            reason = line_end;
            while (reason > what && reason[-1] != '\n')
                reason--;
            if (reason == line_end)
                reason = what;
        }
        if (std::strncmp(reason, "builtins.", 9) == 0)
            reason += 9;
        what = reason;
    }
    size_t used = 0;
    if (context && *context) {
        used = append(err, errlen, used, context, std::strlen(context));
        used = append(err, errlen, used, ": ", 2);
    }
    bool pending_space = false;
    for (const char *p = what; p < end; p++) {
        char c = *p;
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
            pending_space = used > 0;
            continue;
        }
        if (pending_space) {
            used = append(err, errlen, used, " ", 1);
            pending_space = false;
        }
        used = append(err, errlen, used, &c, 1);
    }
}

// Catches everything a libtorch call can throw and reports it as "<context>: <message>".
// `context` is a const char * evaluated only on failure; `fail` is the value returned then.
#define FWT_PROTECT(err, errlen, context, fail, ...)                                               \
    do {                                                                                           \
        try {                                                                                      \
            c10::Warning::WarningHandlerGuard fwt_warning_guard_(warning_once_handler());          \
            __VA_ARGS__                                                                            \
        } catch (const c10::Error &e_) {                                                           \
            set_error_from((err), (errlen), (context), e_.what_without_backtrace());               \
            return fail;                                                                           \
        } catch (const std::exception &e_) {                                                       \
            set_error_from((err), (errlen), (context), e_.what());                                 \
            return fail;                                                                           \
        } catch (...) {                                                                            \
            set_error_from((err), (errlen), (context), "unknown C++ exception");                   \
            return fail;                                                                           \
        }                                                                                          \
    } while (0)

// ---- warnings ---------------------------------------------------------------------------------

// c10 warning handler: prints each distinct warning once to stderr (the first 32 distinct ones),
// instead of once per forward through glog. c10's handler pointer is thread-local; one shared
// instance serves every thread (hence the mutex) and lives as long as the process.
class WarningOnce : public c10::WarningHandler
{
  public:
    void process(const c10::SourceLocation &where, const std::string &text, bool verbatim) override
    {
        (void)where;
        (void)verbatim;
        static std::mutex mu;
        static std::set<std::string> seen;
        try {
            std::string msg = text;
            std::lock_guard<std::mutex> lock(mu);
            if (seen.size() >= 32 || !seen.insert(msg).second)
                return;
            for (char &c : msg)
                if (c == '\n' || c == '\r')
                    c = ' ';
            std::fprintf(stderr, "fw_torch: libtorch warning (shown once): %s\n", msg.c_str());
        } catch (...) {
            // A warning must never turn into an error.
        }
    }
};

WarningOnce *warning_once_handler()
{
    static WarningOnce *handler = new WarningOnce; // never freed: may be used until exit
    return handler;
}

// ---- helpers ----------------------------------------------------------------------------------

std::string shape_str(c10::IntArrayRef sizes)
{
    std::string s = "[";
    for (size_t i = 0; i < sizes.size(); i++) {
        if (i)
            s += ", ";
        s += std::to_string(sizes[i]);
    }
    return s + "]";
}

// Runs the model on `input` (already on the model's device) under inference mode and returns
// its output as a contiguous float32 CPU tensor of shape [n, K]. Throws with a message on any
// mismatch.
at::Tensor run_module(torch::jit::Module &module, const at::Tensor &input, int64_t n)
{
    c10::InferenceMode guard;
    std::vector<c10::IValue> inputs;
    inputs.emplace_back(input);
    c10::IValue out = module.forward(std::move(inputs));
    if (!out.isTensor())
        throw std::runtime_error("the model returned a " + out.tagKind() +
                                 ", expected a single tensor of shape [n, K]");
    at::Tensor t = out.toTensor();
    if (!at::isFloatingType(t.scalar_type()))
        throw std::runtime_error(std::string("the model returned a tensor of type ") +
                                 c10::toString(t.scalar_type()) +
                                 ", expected floating point scores");
    if (t.dim() == 1 && n == 1)
        t = t.unsqueeze(0);
    if (t.dim() != 2 || t.size(0) != n || t.size(1) < 1)
        throw std::runtime_error("the model returned shape " + shape_str(t.sizes()) +
                                 " for a batch of " + std::to_string(n) + ", expected [" +
                                 std::to_string(n) + ", K]" + (n == 1 ? " or [K]" : ""));
    return t.to(at::kCPU, at::kFloat).contiguous();
}

at::Tensor run_forward(fwt_model *m, const at::Tensor &input, int64_t n)
{
    return run_module(m->module, input, n);
}

// Compares the optimised model with the frozen, unoptimised one on a fixed pseudo-random input
// (values in [-2, 2), like normalised pixels) and falls back to the unoptimised one when they
// differ by more than 1e-3 of the output's scale. Consumes m->unoptimized.
void check_optimized(fwt_model *m, int64_t c, int64_t h, int64_t w)
{
    std::unique_ptr<torch::jit::Module> plain = std::move(m->unoptimized);
    if (!plain)
        return;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(20240607);
    at::Tensor x = at::rand({1, c, h, w}, gen, at::TensorOptions().dtype(at::kFloat)) * 4.0 - 2.0;
    x = x.to(m->device);
    at::Tensor got = run_forward(m, x, 1);
    at::Tensor want = run_module(*plain, x, 1);
    if (got.sizes() != want.sizes())
        throw std::runtime_error("the optimised model returned " + shape_str(got.sizes()) +
                                 ", the unoptimised one " + shape_str(want.sizes()));
    double diff = (got - want).abs().max().item<double>();
    double scale = std::max(1.0, want.abs().max().item<double>());
    if (diff <= 1e-3 * scale)
        return;
    std::fprintf(stderr,
                 "fw_torch: optimize_for_inference changed this model's outputs by %.3g "
                 "(largest output %.3g; a libtorch bug); serving it frozen but not optimised\n",
                 diff, scale);
    m->module = std::move(*plain);
}

// Checks the dimensions of an NCHW batch. Throws with a message.
void check_dims(int64_t n, int64_t c, int64_t h, int64_t w)
{
    if (n < 1 || c < 1 || h < 1 || w < 1)
        throw std::runtime_error("invalid input shape [" + std::to_string(n) + ", " +
                                 std::to_string(c) + ", " + std::to_string(h) + ", " +
                                 std::to_string(w) + "]: every dimension must be at least 1");
    const int64_t limit = INT64_C(1) << 40; // floats; far beyond any real batch
    if (c > limit / n || h > limit / (n * c) || w > limit / (n * c * h))
        throw std::runtime_error("input shape too large");
}

} // namespace

// ---- C API ------------------------------------------------------------------------------------

extern "C" {

fwt_params fwt_default_params(void)
{
    fwt_params p;
    p.device = "cpu";
    p.optimize = 1;
    return p;
}

int fwt_set_threads(int intra, int inter, char *err, size_t errlen)
{
    FWT_PROTECT(err, errlen, "cannot set libtorch thread counts", -1, {
        if (intra > 0)
            at::set_num_threads(intra);
        if (inter > 0)
            at::set_num_interop_threads(inter);
        return 0;
    });
}

fwt_model *fwt_model_load(const char *path, const fwt_params *params, char *err, size_t errlen)
{
    if (!path || !*path) {
        set_errorf(err, errlen, "cannot load model: no path given");
        return nullptr;
    }
    fwt_params defaults = fwt_default_params();
    if (!params)
        params = &defaults;
    const char *device_str = params->device && *params->device ? params->device : "cpu";

    struct stat st;
    if (stat(path, &st) != 0) {
        set_errorf(err, errlen, "cannot open model file '%s': %s", path, std::strerror(errno));
        return nullptr;
    }
    if (S_ISDIR(st.st_mode)) {
        set_errorf(err, errlen, "cannot open model file '%s': %s", path, std::strerror(EISDIR));
        return nullptr;
    }
    FILE *f = std::fopen(path, "rb");
    if (!f) {
        set_errorf(err, errlen, "cannot open model file '%s': %s", path, std::strerror(errno));
        return nullptr;
    }
    std::fclose(f);

    // Context for failures below: names the file (and the device, which is often the cause).
    char context[512];
    std::snprintf(context, sizeof context, "cannot load model '%s' on device '%s'", path,
                  device_str);

    FWT_PROTECT(err, errlen, context, nullptr, {
        c10::Device device(device_str); // throws on an unknown device string
        if (device.is_cuda()) {
            if (!at::hasCUDA())
                throw std::runtime_error(
                    "CUDA is not available (this libtorch was built without CUDA, or no CUDA "
                    "GPU or driver was found)");
            int64_t count = static_cast<int64_t>(at::getNumGPUs());
            if (!device.has_index())
                device.set_index(0);
            if (device.index() >= count)
                throw std::runtime_error("no such CUDA device (" + std::to_string(count) +
                                         " found)");
        }

        torch::jit::Module module = torch::jit::load(path, device);
        module.eval();
        std::unique_ptr<torch::jit::Module> plain;
        if (params->optimize) {
            at::NoGradGuard no_grad;
            bool frozen = !module.type()->hasAttribute("training");
            if (device.is_cpu()) {
                // The reference for the first probe: frozen (a copy when the file was frozen
                // already, since optimize_for_inference then rewrites the module it is given).
                plain = std::make_unique<torch::jit::Module>(frozen ? module.clone()
                                                                    : torch::jit::freeze(module));
                // Freezes its own copy first (when not frozen yet), then CPU rewrites.
                module = torch::jit::optimize_for_inference(module);
            } else if (!frozen) {
                module = torch::jit::freeze(module);
            }
        }
        // Allocated last: everything above cleans itself up if it throws.
        fwt_model *m = new fwt_model{std::move(module), device, device.str(), std::move(plain)};
        return m;
    });
}

int fwt_model_probe(fwt_model *m, int64_t c, int64_t h, int64_t w, int64_t *out_k, char *err,
                    size_t errlen)
{
    if (!m) {
        set_errorf(err, errlen, "probe: no model");
        return -1;
    }
    FWT_PROTECT(err, errlen, "model rejected a probe input", -1, {
        check_dims(1, c, h, w);
        at::Tensor input =
            at::zeros({1, c, h, w}, at::TensorOptions().dtype(at::kFloat).device(m->device));
        at::Tensor out = run_forward(m, input, 1);
        check_optimized(m, c, h, w);
        if (out_k)
            *out_k = out.size(1);
        return 0;
    });
}

int fwt_model_forward(fwt_model *m, const float *input, int64_t n, int64_t c, int64_t h, int64_t w,
                      float *output, int64_t output_cap, char *err, size_t errlen)
{
    if (!m) {
        set_errorf(err, errlen, "forward: no model");
        return -1;
    }
    if (!input || !output) {
        set_errorf(err, errlen, "forward: %s buffer is NULL", input ? "output" : "input");
        return -1;
    }
    FWT_PROTECT(err, errlen, "forward failed", -1, {
        check_dims(n, c, h, w);
        // from_blob does not copy; the .to() below always does (copy=true), so the model never
        // sees, let alone writes to, the caller's buffer, and the const promise holds even for a
        // model that modifies its input in place.
        at::Tensor blob = torch::from_blob(const_cast<float *>(input), {n, c, h, w},
                                           at::TensorOptions().dtype(at::kFloat));
        at::Tensor x = blob.to(m->device, at::kFloat, /*non_blocking=*/false, /*copy=*/true);
        at::Tensor out = run_forward(m, x, n);
        const int64_t count = out.numel();
        if (count > output_cap)
            throw std::runtime_error("output buffer too small: " + std::to_string(count) +
                                     " floats needed (" + shape_str(out.sizes()) + "), " +
                                     std::to_string(output_cap) + " given");
        std::memcpy(output, out.data_ptr<float>(), sizeof(float) * static_cast<size_t>(count));
        return 0;
    });
}

const char *fwt_model_device(const fwt_model *m)
{
    return m ? m->device_name.c_str() : "";
}

void fwt_model_free(fwt_model *m)
{
    try {
        delete m;
    } catch (...) {
        // Destructors should not throw; if one does, there is nobody to tell.
    }
}

const char *fwt_torch_version(void)
{
    return TORCH_VERSION;
}

} // extern "C"
