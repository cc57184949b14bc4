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
    /// What the caller's `call` or `persistentLoad` returned.
    case object(Any)
}

/// A list, shared by reference as Python's is (the memo and the stack hold the same one).
final class PickleList {
    var items: [PickleValue] = []
    init(_ items: [PickleValue] = []) { self.items = items }
}

/// A dict in insertion order, shared by reference as Python's is.
final class PickleDict {
    var items: [(key: PickleValue, value: PickleValue)] = []

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
struct Unpickler {
    /// Whether the global "module.name" may be loaded; a refused one stops the load.
    var isAllowed: (String) -> Bool
    /// Calls an allowed global with positional arguments.
    var call: (_ global: String, _ args: [PickleValue]) throws -> PickleValue
    /// Resolves a persistent id (BINPERSID).
    var persistentLoad: (PickleValue) throws -> PickleValue

    /// Reads one pickle from `bytes` at `start`; returns its value and the offset just past STOP.
    func load(_ bytes: [UInt8], from start: Int) throws -> (value: PickleValue, end: Int) {
        var reader = Reader(bytes: bytes, pos: start)
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]

        func pop() throws -> PickleValue {
            guard let v = stack.popLast() else { throw reader.error("stack underflow") }
            return v
        }
        func popToMark() throws -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw reader.error("no MARK") }
            let items = Array(stack[m...])
            stack.removeSubrange(m...)
            return items
        }
        func top() throws -> PickleValue {
            guard let v = stack.last else { throw reader.error("stack underflow") }
            return v
        }
        func string(_ v: PickleValue) throws -> String {
            guard case .string(let s) = v else { throw reader.error("expected a string") }
            return s
        }
        func tuple(_ v: PickleValue) throws -> [PickleValue] {
            guard case .tuple(let t) = v else { throw reader.error("expected a tuple of arguments") }
            return t
        }
        func global(_ module: String, _ name: String) throws -> PickleValue {
            let full = module + "." + name
            guard isAllowed(full) else { throw CheckpointFormatError("refusing to load global \(full)") }
            return .global(full)
        }
        func callGlobal(_ callee: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
            guard case .global(let name) = callee else { throw reader.error("call of something that is not a global") }
            return try call(name, args)
        }
        func appendItems(_ items: [PickleValue]) throws {
            guard case .list(let list) = try top() else { throw reader.error("APPEND to a non-list") }
            list.items += items
        }
        func setItems(_ items: [PickleValue]) throws {
            guard items.count % 2 == 0, case .dict(let dict) = try top() else { throw reader.error("SETITEM on a non-dict") }
            for i in stride(from: 0, to: items.count, by: 2) { dict.items.append((items[i], items[i + 1])) }
        }
        func memoGet(_ key: Int) throws -> PickleValue {
            guard let v = memo[key] else { throw reader.error("memo entry \(key) is undefined") }
            return v
        }

        while true {
            let opcode = try reader.byte()
            switch opcode {
            case 0x80: _ = try reader.byte()                         // PROTO
            case 0x95: _ = try reader.int(8)                         // FRAME: a length hint only
            case 0x2E: return (try pop(), reader.pos)                // STOP
            case 0x28: marks.append(stack.count)                     // MARK
            case 0x30: _ = try pop()                                 // POP
            case 0x31: _ = try popToMark()                           // POP_MARK
            case 0x32: stack.append(try top())                       // DUP
            case 0x4E: stack.append(.none)                           // NONE
            case 0x88: stack.append(.bool(true))                     // NEWTRUE
            case 0x89: stack.append(.bool(false))                    // NEWFALSE
            case 0x4B: stack.append(.int(try reader.int(1)))         // BININT1
            case 0x4D: stack.append(.int(try reader.int(2)))         // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try reader.int(4)))))  // BININT
            case 0x8A: stack.append(try reader.long(try reader.int(1)))   // LONG1
            case 0x8B: stack.append(try reader.long(try reader.int(4)))   // LONG4
            case 0x47:                                               // BINFLOAT: big-endian double
                let raw = try reader.take(8)
                stack.append(.float(Double(bitPattern: raw.reduce(0) { $0 << 8 | UInt64($1) })))
            case 0x58: stack.append(.string(try reader.text(try reader.int(4))))   // BINUNICODE
            case 0x8C: stack.append(.string(try reader.text(try reader.int(1))))   // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try reader.text(try reader.int(8))))   // BINUNICODE8
            case 0x54: stack.append(.string(try reader.text(try reader.int(4))))   // BINSTRING (Python 2 str)
            case 0x55: stack.append(.string(try reader.text(try reader.int(1))))   // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(Array(try reader.take(try reader.int(4)))))   // BINBYTES
            case 0x43: stack.append(.bytes(Array(try reader.take(try reader.int(1)))))   // SHORT_BINBYTES
            case 0x8E: stack.append(.bytes(Array(try reader.take(try reader.int(8)))))   // BINBYTES8
            case 0x29: stack.append(.tuple([]))                      // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(try popToMark()))         // TUPLE
            case 0x85, 0x86, 0x87:                                   // TUPLE1, TUPLE2, TUPLE3
                let n = Int(opcode) - 0x84
                guard stack.count >= n else { throw reader.error("stack underflow") }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                stack.append(.tuple(items))
            case 0x5D: stack.append(.list(PickleList()))             // EMPTY_LIST
            case 0x6C: stack.append(.list(PickleList(try popToMark())))   // LIST
            case 0x61: try appendItems([try pop()])                  // APPEND
            case 0x65: try appendItems(try popToMark())              // APPENDS
            case 0x7D: stack.append(.dict(PickleDict()))             // EMPTY_DICT
            case 0x64:                                               // DICT
                let items = try popToMark()
                stack.append(.dict(PickleDict()))
                try setItems(items)
            case 0x73:                                               // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value])
            case 0x75: try setItems(try popToMark())                 // SETITEMS
            case 0x71: memo[try reader.int(1)] = try top()           // BINPUT
            case 0x72: memo[try reader.int(4)] = try top()           // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()                  // MEMOIZE
            case 0x68: stack.append(try memoGet(try reader.int(1)))  // BINGET
            case 0x6A: stack.append(try memoGet(try reader.int(4)))  // LONG_BINGET
            case 0x63:                                               // GLOBAL "module\nname\n"
                let module = try reader.line(), name = try reader.line()
                stack.append(try global(module, name))
            case 0x93:                                               // STACK_GLOBAL
                let name = try string(try pop()), module = try string(try pop())
                stack.append(try global(module, name))
            case 0x52:                                               // REDUCE
                let args = try tuple(try pop())
                stack.append(try callGlobal(try pop(), args))
            case 0x81:                                               // NEWOBJ
                let args = try tuple(try pop())
                stack.append(try callGlobal(try pop(), args))
            case 0x92:                                               // NEWOBJ_EX (keyword arguments ignored)
                _ = try pop()
                let args = try tuple(try pop())
                stack.append(try callGlobal(try pop(), args))
            case 0x62:                                               // BUILD: state ignored, never applied
                _ = try pop()
                _ = try top()
            case 0x51: stack.append(try persistentLoad(try pop()))   // BINPERSID
            default:
                throw reader.error(String(format: "unsupported pickle opcode 0x%02x", opcode), at: reader.pos - 1)
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
