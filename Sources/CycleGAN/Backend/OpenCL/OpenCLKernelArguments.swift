import COpenCL

/// One argument of a kernel, as `KernelTable.signatures` declares it.
public struct KernelArgument: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A __global buffer of `element` ("float", "act_t", "half", "int", "float4"); `const`
        /// where the kernel only reads it.
        case global(element: String, const: Bool)
        /// __local scratch (`KernelArg.local` bytes).
        case local
        case int, float, ulong
    }
    public let name: String
    public let kind: Kind

    public var description: String {
        switch kind {
        case .global(let e, let c): return "global \(c ? "const " : "")\(e)* \(name)"
        case .local: return "local float* \(name)"
        case .int: return "int \(name)"
        case .float: return "float \(name)"
        case .ulong: return "ulong \(name)"
        }
    }

    /// The arguments of a signature ("global const act_t* x, int n, local float* scratch").
    static func parse(_ signature: String) -> [KernelArgument] {
        signature.split(separator: ",").map { part in
            let words = part.replacingOccurrences(of: "*", with: " * ").split(separator: " ").map(String.init)
            let name = words.last ?? ""
            switch words.first {
            case "global":
                let const_ = words.contains("const")
                let element = words.dropFirst().first { $0 != "const" } ?? "?"
                return KernelArgument(name: name, kind: .global(element: element, const: const_))
            case "local": return KernelArgument(name: name, kind: .local)
            case "int": return KernelArgument(name: name, kind: .int)
            case "float": return KernelArgument(name: name, kind: .float)
            default: return KernelArgument(name: name, kind: .ulong)
            }
        }
    }

    /// Whether `arg` fits this argument in a program whose activations are FP16 when `half`:
    /// the same kind, and a buffer of the element's type (an act_t buffer is FP16 exactly in
    /// the FP16 programs; int and float4 buffers are 4-byte FP32 storage).
    func accepts(_ arg: KernelArg, half: Bool) -> Bool {
        switch (kind, arg) {
        case (.global(let e, _), .buffer(let b)):
            switch e {
            case "act_t": return b.dtype == (half ? .float16 : .float32)
            case "half": return b.dtype == .float16
            default: return b.dtype == .float32
            }
        case (.local, .local), (.int, .int), (.float, .float), (.ulong, .ulong): return true
        default: return false
        }
    }

    /// What clGetKernelArgInfo reports for it: the address qualifier and the type name in a
    /// program built with or without -DACT_HALF (act_t is a macro for float or half).
    func expectedInfo(half: Bool) -> (address: cl_kernel_arg_address_qualifier, typeName: String) {
        switch kind {
        case .global(let e, _):
            return (cl_kernel_arg_address_qualifier(CL_KERNEL_ARG_ADDRESS_GLOBAL), (e == "act_t" ? (half ? "half" : "float") : e) + "*")
        case .local: return (cl_kernel_arg_address_qualifier(CL_KERNEL_ARG_ADDRESS_LOCAL), "float*")
        case .int: return (cl_kernel_arg_address_qualifier(CL_KERNEL_ARG_ADDRESS_PRIVATE), "int")
        case .float: return (cl_kernel_arg_address_qualifier(CL_KERNEL_ARG_ADDRESS_PRIVATE), "float")
        case .ulong: return (cl_kernel_arg_address_qualifier(CL_KERNEL_ARG_ADDRESS_PRIVATE), "ulong")
        }
    }
}

extension KernelInfo {
    /// The kernel's arguments (`KernelTable.signatures`).
    public var arguments: [KernelArgument] { KernelTable.arguments[name] ?? [] }
}

extension KernelTable {
    /// Every kernel's parsed signature.
    static let arguments: [String: [KernelArgument]] = signatures.mapValues(KernelArgument.parse)

    /// Why the launch arguments `args` of `name` (from a program with FP16 activations when
    /// `half`) disagree with its declaration; nil where they agree.
    static func argumentProblem(_ name: String, half: Bool, _ args: [KernelArg]) -> String? {
        guard let declared = arguments[name] else { return "\(name) has no signature in KernelTable.signatures" }
        guard declared.count == args.count else {
            return "launching \(name) with \(args.count) arguments; it declares \(declared.count) (OpenCLKernelSignatures.swift)"
        }
        for (i, (d, a)) in zip(declared, args).enumerated() where !d.accepts(a, half: half) {
            return "launching \(name): argument \(i) is \(describe(a)), where it declares \(d)\(half ? " (FP16 program)" : "")"
        }
        return nil
    }

    private static func describe(_ a: KernelArg) -> String {
        switch a {
        case .buffer(let b): return "a \(b.dtype) buffer"
        case .int: return "an int"
        case .float: return "a float"
        case .ulong: return "a ulong"
        case .local: return "local memory"
        }
    }
}

extension OpenCLContext {
    /// CL_KERNEL_NUM_ARGS.
    func argumentCount(_ kernel: cl_kernel) -> Int {
        var n: cl_uint = 0
        return clGetKernelInfo(kernel, cl_kernel_info(CL_KERNEL_NUM_ARGS), MemoryLayout<cl_uint>.size, &n, nil) == CL_SUCCESS ? Int(n) : -1
    }

    /// Throws where a kernel of Kernels/<file>.cl built with `options` takes another number of
    /// arguments than `KernelTable` declares: one line naming the kernel.
    func checkArgumentCounts(_ kernels: [KernelInfo], file: String, options: String) throws {
        for k in kernels {
            if let problem = argumentCountProblem(try kernel(file, k.name, options: options), k.name, declared: k.arguments) {
                throw OpenCLError(code: CL_INVALID_KERNEL_ARGS, operation: "\(file).cl: " + problem)
            }
        }
    }

    /// Why compiled `kernel` (`name`) disagrees with `declared` in its argument count; nil where it agrees.
    func argumentCountProblem(_ kernel: cl_kernel, _ name: String, declared: [KernelArgument]) -> String? {
        let n = argumentCount(kernel)
        return n == declared.count ? nil
            : "\(name) takes \(n) arguments on \(device.name), KernelTable declares \(declared.count) "
            + "(Sources/CycleGAN/Backend/OpenCL/OpenCLKernelSignatures.swift)"
    }

    /// The address qualifier, type name, `const` and name of argument `index` (a program built
    /// with -cl-kernel-arg-info); nil where the driver has no argument information.
    func argumentInfo(_ kernel: cl_kernel, _ index: Int)
        -> (address: cl_kernel_arg_address_qualifier, typeName: String, const: Bool, name: String)? {
        var address: cl_kernel_arg_address_qualifier = 0
        guard clGetKernelArgInfo(kernel, cl_uint(index), cl_kernel_arg_info(CL_KERNEL_ARG_ADDRESS_QUALIFIER),
                                 MemoryLayout<cl_kernel_arg_address_qualifier>.size, &address, nil) == CL_SUCCESS else { return nil }
        var qualifier: cl_kernel_arg_type_qualifier = 0
        _ = clGetKernelArgInfo(kernel, cl_uint(index), cl_kernel_arg_info(CL_KERNEL_ARG_TYPE_QUALIFIER),
                               MemoryLayout<cl_kernel_arg_type_qualifier>.size, &qualifier, nil)
        func string(_ what: Int32) -> String {
            var size = 0
            guard clGetKernelArgInfo(kernel, cl_uint(index), cl_kernel_arg_info(what), 0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
            var bytes = [CChar](repeating: 0, count: size + 1)
            guard clGetKernelArgInfo(kernel, cl_uint(index), cl_kernel_arg_info(what), size, &bytes, nil) == CL_SUCCESS else { return "" }
            return String(cString: bytes)
        }
        return (address, string(CL_KERNEL_ARG_TYPE_NAME), qualifier & cl_kernel_arg_type_qualifier(CL_KERNEL_ARG_TYPE_CONST) != 0,
                string(CL_KERNEL_ARG_NAME))
    }
}
