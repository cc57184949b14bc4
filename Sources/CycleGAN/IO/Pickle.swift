import Foundation

/// A Python value as the restricted unpickler builds it: plain data, containers, the
/// names of allowed globals, and whatever the caller made of a call or a persistent id.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits: its little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// "module.name" of a global the caller allowed.
    case global(String)
    /// What the caller's `call` or `persistentLoad` returned (it must hold no `PickleValue`).
    case object(Any)
}

/// A list, shared by reference as Python's is (the memo and the stack hold the same one).
final class PickleList {
    var items: [PickleValue] = []
    /// Nesting depth so far (1: holds no container) and whether another container holds
    /// this one; see `Unpickler.Limits.maxDepth`.
    fileprivate var depth = 1, isNested = false
    init(_ items: [PickleValue] = []) { self.items = items }
}

/// A dict in insertion order, shared by reference as Python's is.
final class PickleDict {
    var items: [(key: PickleValue, value: PickleValue)] = []
    fileprivate var depth = 1, isNested = false

    /// The value under the string key `key`.
    subscript(key: String) -> PickleValue? {
        for item in items { if case .string(key) = item.key { return item.value } }
        return nil
    }
}

/// A pickle reader that never executes anything: globals are only names, allowed or
/// refused by the caller, and calls (REDUCE, NEWOBJ) and persistent ids go to the
/// caller's functions. Reads the binary opcodes of protocols 2 to 5 (and Python 2's
/// byte strings); BUILD's state is ignored.
///
/// A hostile pickle cannot exhaust memory or the stack: the stack, the memo, the nesting
/// depth and the number of container items are capped (`Limits`), a list or dict may not
/// grow deeper once it sits inside another container (which also refuses reference
/// cycles), and what was built is released container by container, newest first, never
/// by a recursive release of a deep tree.
struct Unpickler {
    /// Whether the global "module.name" may be loaded; a refused one stops the load.
    var isAllowed: (String) -> Bool
    /// Calls an allowed global with positional arguments.
    var call: (_ global: String, _ args: [PickleValue]) throws -> PickleValue
    /// Resolves a persistent id (BINPERSID).
    var persistentLoad: (PickleValue) throws -> PickleValue
    /// What one pickle may build.
    var limits = Limits()

    /// Caps on one pickle; a pickle past any of them is refused with an error naming it.
    /// A PyTorch state dict needs a few items per tensor and a nesting depth of 4.
    struct Limits {
        /// Containers inside containers (a tuple of leaves has depth 1).
        var maxDepth = 2000
        /// Values and marks on the unpickler's stack.
        var maxStack = 1_000_000
        /// Memo entries.
        var maxMemo = 1_000_000
        /// Containers built plus the items placed into them, over the whole pickle.
        var maxItems = 2_000_000
    }

    /// Reads one pickle from `bytes` at `start` and hands its value to `body`, which must
    /// not keep any part of it; then releases everything the pickle built, iteratively.
    /// Returns what `body` returned and the offset just past STOP.
    func load<Result>(_ bytes: [UInt8], from start: Int,
                      _ body: (PickleValue) throws -> Result) throws -> (result: Result, end: Int) {
        let machine = Machine(self, bytes: bytes, start: start)
        defer { machine.tearDown() }
        let end = try machine.run()
        return (try body(machine.result), end)
    }

    /// Reads one pickle from `bytes` at `start`; returns its value and the offset just past
    /// STOP. The caller releases the value, recursively but at most `limits.maxDepth` deep;
    /// the checkpoint reader uses `load(_:from:_:)`, which tears down iteratively.
    func load(_ bytes: [UInt8], from start: Int) throws -> (value: PickleValue, end: Int) {
        let machine = Machine(self, bytes: bytes, start: start)
        let end: Int
        do {
            end = try machine.run()
        } catch {
            machine.tearDown()
            throw error
        }
        return (machine.result, end)
    }

    /// One run of the pickle machine: its stack, marks and memo, and every container it
    /// built, oldest first (the teardown order's reverse).
    private final class Machine {
        let unpickler: Unpickler
        let limits: Limits
        var reader: Reader
        var stack: [PickleValue] = []
        /// The nesting depth of each stack entry (0: not a container). Lists and dicts
        /// carry their own, which may have grown since they were pushed.
        var depths: [Int] = []
        var marks: [Int] = []
        var memo: [Int: (value: PickleValue, depth: Int)] = [:]
        var containers: [PickleValue] = []
        var items = 0
        var result = PickleValue.none

        init(_ unpickler: Unpickler, bytes: [UInt8], start: Int) {
            self.unpickler = unpickler
            self.limits = unpickler.limits
            self.reader = Reader(bytes: bytes, pos: start)
        }

        /// Releases everything without recursion: with the stack, memo and result gone,
        /// each container is held by `containers` and by containers built after it (lists
        /// and dicts may also hold newer ones, so they are emptied first). Releasing the
        /// newest first, each one's last reference goes, and it releases only older
        /// containers, which are still held.
        func tearDown() {
            result = .none
            stack = []
            depths = []
            marks = []
            memo = [:]
            for c in containers {
                switch c {
                case .list(let l): l.items = []
                case .dict(let d): d.items = []
                default: break
                }
            }
            while !containers.isEmpty { containers.removeLast() }
        }

        // MARK: Stack

        func push(_ v: PickleValue, depth: Int = 0) throws {
            guard stack.count + marks.count < limits.maxStack else {
                throw reader.error("more than \(limits.maxStack) values on the stack (the limit)")
            }
            stack.append(v)
            depths.append(depth)
        }

        func pop() throws -> (value: PickleValue, depth: Int) {
            guard let v = stack.popLast(), let d = depths.popLast() else { throw reader.error("stack underflow") }
            return (v, Self.depth(of: v, recorded: d))
        }

        func top() throws -> (value: PickleValue, depth: Int) {
            guard let v = stack.last, let d = depths.last else { throw reader.error("stack underflow") }
            return (v, Self.depth(of: v, recorded: d))
        }

        func popToMark() throws -> (values: [PickleValue], depth: Int) {
            guard let m = marks.popLast(), m <= stack.count else { throw reader.error("no MARK") }
            let values = Array(stack[m...])
            var depth = 0
            for (v, d) in zip(values, depths[m...]) { depth = max(depth, Self.depth(of: v, recorded: d)) }
            stack.removeSubrange(m...)
            depths.removeSubrange(m...)
            return (values, depth)
        }

        static func depth(of v: PickleValue, recorded: Int) -> Int {
            switch v {
            case .list(let l): return l.depth
            case .dict(let d): return d.depth
            default: return recorded
            }
        }

        // MARK: Containers

        /// Counts `n` items against `maxItems`.
        func count(_ n: Int) throws {
            items += n
            guard items <= limits.maxItems else {
                throw reader.error("more than \(limits.maxItems) container items (the limit)")
            }
        }

        /// Remembers a container for the teardown.
        func keep(_ v: PickleValue) {
            switch v {
            case .tuple(let t) where !t.isEmpty: containers.append(v)
            case .list, .dict: containers.append(v)
            default: break
            }
        }

        /// The depth of a container holding items of at most `itemDepth`, checked.
        func containerDepth(_ itemDepth: Int) throws -> Int {
            guard itemDepth < limits.maxDepth else {
                throw reader.error("containers nested more than \(limits.maxDepth) deep (the limit)")
            }
            return itemDepth + 1
        }

        /// Marks lists and dicts among `values` as held by another container.
        func nest(_ values: [PickleValue]) {
            for v in values {
                switch v {
                case .list(let l): l.isNested = true
                case .dict(let d): d.isNested = true
                default: break
                }
            }
        }

        func pushTuple(_ values: [PickleValue], itemDepth: Int) throws {
            guard !values.isEmpty else { return try push(.tuple([]), depth: 1) }
            let depth = try containerDepth(itemDepth)
            try count(values.count + 1)
            nest(values)
            let t = PickleValue.tuple(values)
            keep(t)
            try push(t, depth: depth)
        }

        func newList(_ values: [PickleValue] = [], itemDepth: Int = 0) throws {
            let list = PickleList(values)
            list.depth = try containerDepth(itemDepth)
            try count(values.count + 1)
            nest(values)
            keep(.list(list))
            try push(.list(list))
        }

        func newDict() throws -> PickleDict {
            let dict = PickleDict()
            try count(1)
            keep(.dict(dict))
            try push(.dict(dict))
            return dict
        }

        /// The new depth of a list or dict at `depth` receiving items of `itemDepth`. One
        /// already inside another container may not grow deeper: its holder's depth would
        /// be stale, and a container placed (indirectly) inside itself would never end.
        func grownDepth(_ depth: Int, isNested: Bool, itemDepth: Int) throws -> Int {
            let grown = max(depth, try containerDepth(itemDepth))
            guard grown == depth || !isNested else {
                throw reader.error("a list or dict grows deeper after being placed in another container (a recursive structure?)")
            }
            return grown
        }

        func append(_ values: [PickleValue], itemDepth: Int) throws {
            guard case .list(let list) = try top().value else { throw reader.error("APPEND to a non-list") }
            nest(values)
            list.depth = try grownDepth(list.depth, isNested: list.isNested, itemDepth: itemDepth)
            try count(values.count)
            list.items += values
        }

        func setItems(_ values: [PickleValue], itemDepth: Int) throws {
            guard values.count % 2 == 0, case .dict(let dict) = try top().value else { throw reader.error("SETITEM on a non-dict") }
            nest(values)
            dict.depth = try grownDepth(dict.depth, isNested: dict.isNested, itemDepth: itemDepth)
            try count(values.count)
            for i in stride(from: 0, to: values.count, by: 2) { dict.items.append((values[i], values[i + 1])) }
        }

        // MARK: Memo, globals, calls

        func memoPut(_ key: Int) throws {
            guard memo.count < limits.maxMemo || memo[key] != nil else {
                throw reader.error("more than \(limits.maxMemo) memo entries (the limit)")
            }
            let (v, d) = try top()
            memo[key] = (v, d)
        }

        func memoGet(_ key: Int) throws {
            guard let (v, d) = memo[key] else { throw reader.error("memo entry \(key) is undefined") }
            try push(v, depth: d)
        }

        func string(_ v: PickleValue) throws -> String {
            guard case .string(let s) = v else { throw reader.error("expected a string") }
            return s
        }

        func global(_ module: String, _ name: String) throws -> PickleValue {
            let full = module + "." + name
            guard unpickler.isAllowed(full) else { throw CheckpointFormatError("refusing to load global \(printable(full))") }
            return .global(full)
        }

        /// Pops the arguments and the callee, calls it and pushes the result.
        func callGlobal() throws {
            let (argsValue, argsDepth) = try pop()
            guard case .tuple(let args) = argsValue else { throw reader.error("expected a tuple of arguments") }
            guard case .global(let name) = try pop().value else { throw reader.error("call of something that is not a global") }
            try pushResult(try unpickler.call(name, args), depth: argsDepth)
        }

        /// Pushes what a caller's function returned: as deep as what it was given, at most.
        /// A container counts as one item (a function may make a new one each call).
        func pushResult(_ v: PickleValue, depth: Int) throws {
            switch v {
            case .tuple, .list, .dict: try count(1)
            default: break
            }
            keep(v)
            try push(v, depth: max(depth, Self.depth(of: v, recorded: 0)))
        }

        // MARK: The opcodes

        /// Runs to STOP; leaves the pickled object in `result` and returns the offset past STOP.
        func run() throws -> Int {
            while true {
                let opcode = try reader.byte()
                switch opcode {
                case 0x80: _ = try reader.byte()                         // PROTO
                case 0x95: _ = try reader.int(8)                         // FRAME: a length hint only
                case 0x2E:                                               // STOP
                    result = try pop().value
                    return reader.pos
                case 0x28:                                               // MARK
                    guard stack.count + marks.count < limits.maxStack else {
                        throw reader.error("more than \(limits.maxStack) values on the stack (the limit)")
                    }
                    marks.append(stack.count)
                case 0x30: _ = try pop()                                 // POP
                case 0x31: _ = try popToMark()                           // POP_MARK
                case 0x32: let (v, d) = try top(); try push(v, depth: d) // DUP
                case 0x4E: try push(.none)                               // NONE
                case 0x88: try push(.bool(true))                         // NEWTRUE
                case 0x89: try push(.bool(false))                        // NEWFALSE
                case 0x4B: try push(.int(try reader.int(1)))             // BININT1
                case 0x4D: try push(.int(try reader.int(2)))             // BININT2
                case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try reader.int(4)))))  // BININT
                case 0x8A: try push(try reader.long(try reader.int(1)))  // LONG1
                case 0x8B: try push(try reader.long(try reader.int(4)))  // LONG4
                case 0x47:                                               // BINFLOAT: big-endian double
                    let raw = try reader.take(8)
                    try push(.float(Double(bitPattern: raw.reduce(0) { $0 << 8 | UInt64($1) })))
                case 0x58: try push(.string(try reader.text(try reader.int(4))))   // BINUNICODE
                case 0x8C: try push(.string(try reader.text(try reader.int(1))))   // SHORT_BINUNICODE
                case 0x8D: try push(.string(try reader.text(try reader.int(8))))   // BINUNICODE8
                case 0x54: try push(.string(try reader.text(try reader.int(4))))   // BINSTRING (Python 2 str)
                case 0x55: try push(.string(try reader.text(try reader.int(1))))   // SHORT_BINSTRING
                case 0x42: try push(.bytes(Array(try reader.take(try reader.int(4)))))   // BINBYTES
                case 0x43: try push(.bytes(Array(try reader.take(try reader.int(1)))))   // SHORT_BINBYTES
                case 0x8E: try push(.bytes(Array(try reader.take(try reader.int(8)))))   // BINBYTES8
                case 0x29: try push(.tuple([]), depth: 1)                // EMPTY_TUPLE
                case 0x74:                                               // TUPLE
                    let (values, depth) = try popToMark()
                    try pushTuple(values, itemDepth: depth)
                case 0x85, 0x86, 0x87:                                   // TUPLE1, TUPLE2, TUPLE3
                    let n = Int(opcode) - 0x84
                    guard stack.count >= n else { throw reader.error("stack underflow") }
                    var values: [PickleValue] = [], depth = 0
                    for _ in 0..<n {
                        let (v, d) = try pop()
                        values.append(v)
                        depth = max(depth, d)
                    }
                    try pushTuple(values.reversed(), itemDepth: depth)
                case 0x5D: try newList()                                 // EMPTY_LIST
                case 0x6C:                                               // LIST
                    let (values, depth) = try popToMark()
                    try newList(values, itemDepth: depth)
                case 0x61:                                               // APPEND
                    let (v, d) = try pop()
                    try append([v], itemDepth: d)
                case 0x65:                                               // APPENDS
                    let (values, depth) = try popToMark()
                    try append(values, itemDepth: depth)
                case 0x7D: _ = try newDict()                             // EMPTY_DICT
                case 0x64:                                               // DICT
                    let (values, depth) = try popToMark()
                    _ = try newDict()
                    try setItems(values, itemDepth: depth)
                case 0x73:                                               // SETITEM
                    let (value, d1) = try pop(), (key, d2) = try pop()
                    try setItems([key, value], itemDepth: max(d1, d2))
                case 0x75:                                               // SETITEMS
                    let (values, depth) = try popToMark()
                    try setItems(values, itemDepth: depth)
                case 0x71: try memoPut(try reader.int(1))                // BINPUT
                case 0x72: try memoPut(try reader.int(4))                // LONG_BINPUT
                case 0x94: try memoPut(memo.count)                       // MEMOIZE
                case 0x68: try memoGet(try reader.int(1))                // BINGET
                case 0x6A: try memoGet(try reader.int(4))                // LONG_BINGET
                case 0x63:                                               // GLOBAL "module\nname\n"
                    let module = try reader.line(), name = try reader.line()
                    try push(try global(module, name))
                case 0x93:                                               // STACK_GLOBAL
                    let name = try string(try pop().value), module = try string(try pop().value)
                    try push(try global(module, name))
                case 0x52, 0x81: try callGlobal()                        // REDUCE, NEWOBJ
                case 0x92:                                               // NEWOBJ_EX (keyword arguments ignored)
                    _ = try pop()
                    try callGlobal()
                case 0x62:                                               // BUILD: state ignored, never applied
                    _ = try pop()
                    _ = try top()
                case 0x51:                                               // BINPERSID
                    let (id, depth) = try pop()
                    try pushResult(try unpickler.persistentLoad(id), depth: depth)
                default:
                    throw reader.error(String(format: "unsupported pickle opcode 0x%02x", opcode), at: reader.pos - 1)
                }
            }
        }
    }

    /// A bounds-checked cursor over the pickle's bytes.
    private struct Reader {
        let bytes: [UInt8]
        var pos: Int

        func error(_ what: String, at offset: Int? = nil) -> CheckpointFormatError {
            CheckpointFormatError("malformed pickle at byte \(offset ?? pos): \(what)")
        }

        mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count - pos else { throw error("ends early") }
            defer { pos += n }
            return bytes[pos..<(pos + n)]
        }

        mutating func byte() throws -> UInt8 { try take(1).first! }

        /// An unsigned little-endian integer of `width` bytes.
        mutating func int(_ width: Int) throws -> Int {
            guard let v = readLittleEndian(bytes, at: pos, width: width) else { throw error("ends early or integer too large") }
            pos += width
            return v
        }

        /// LONG1/LONG4 payload: little-endian two's complement.
        mutating func long(_ n: Int) throws -> PickleValue {
            let raw = Array(try take(n))
            guard n <= 8 else { return .bigInt(raw) }
            var v: UInt64 = raw.last.map { $0 & 0x80 != 0 ? UInt64.max : 0 } ?? 0
            for (i, b) in raw.enumerated() {
                v &= ~(UInt64(0xFF) << (8 * i))
                v |= UInt64(b) << (8 * i)
            }
            return .int(Int(Int64(bitPattern: v)))
        }

        mutating func text(_ n: Int) throws -> String {
            String(decoding: try take(n), as: UTF8.self)
        }

        /// A newline-terminated ASCII line (GLOBAL's module and name).
        mutating func line() throws -> String {
            guard let end = bytes[pos...].prefix(256).firstIndex(of: 0x0A) else { throw error("unterminated GLOBAL") }
            defer { pos = end + 1 }
            return String(decoding: bytes[pos..<end], as: UTF8.self)
        }
    }
}
