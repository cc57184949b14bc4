import Foundation

/// What a run writes as it trains, besides checkpoints: `loss_log.txt` (official format),
/// `loss_log.jsonl` (one JSON object per logged iteration) and `web/index.html` with the
/// visuals of each display step (newest first) and an SVG plot of the losses. Image
/// encoding and page writing happen on a background queue so training does not wait.
public final class RunReport {
    public let runDirectory: String
    let webDirectory: String
    let writeHTML: Bool
    private let queue = DispatchQueue(label: "cyclegan.report")
    /// (total images, the losses) of every logged iteration, for the plot.
    private var history: [(Int, [Float])] = []
    /// Display steps shown on the page: (label, visual names).
    private var displays: [(String, [String])] = []
    private let name: String
    /// The model's loss names, in logging order.
    let lossNames: [String]

    public init(runDirectory: String, name: String, lossNames: [String] = CycleGANLosses.names, writeHTML: Bool,
                resumed: Bool) throws {
        self.runDirectory = runDirectory
        self.name = name
        self.lossNames = lossNames
        webDirectory = runDirectory + "/web"
        self.writeHTML = writeHTML
        try FileManager.default.createDirectory(atPath: webDirectory + "/images", withIntermediateDirectories: true)
        let formatter = DateFormatter()
        formatter.dateFormat = "EEE MMM d HH:mm:ss yyyy"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        append("================ Training Loss (\(formatter.string(from: Date()))) ================\n", to: "loss_log.txt")
        if resumed { reloadHistory() }
    }

    /// Appends `text` with one write(2) in O_APPEND mode: once this returns, the line is in
    /// the file (a `kill -9` of the process cannot lose it).
    private func append(_ text: String, to file: String) {
        let fd = open(runDirectory + "/" + file, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }

    /// On resume, keeps the plot's earlier points from loss_log.jsonl.
    private func reloadHistory() {
        guard let text = try? String(contentsOfFile: runDirectory + "/loss_log.jsonl", encoding: .utf8) else { return }
        for line in text.split(separator: "\n") {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let total = obj["total_iters"] as? Int else { continue }
            history.append((total, lossNames.map { Float(obj[$0] as? Double ?? 0) }))
        }
    }

    /// The console/log line of the official `print_current_losses`.
    public static func lossLine(epoch: Int, iter: Int, time: Double, data: Double, losses: Losses) -> String {
        var s = String(format: "(epoch: %d, iters: %d, time: %.3f, data: %.3f) ", epoch, iter, time, data)
        for (k, v) in zip(losses.names, losses.values) { s += String(format: "%@: %.3f ", k, v) }
        return s
    }

    /// Logs one iteration's losses to both logs, written before this returns (the next
    /// step does not start with a line still in memory).
    public func logLosses(epoch: Int, iter: Int, totalIters: Int, time: Double, data: Double, lr: Double, losses: Losses) {
        let line = Self.lossLine(epoch: epoch, iter: iter, time: time, data: data, losses: losses)
        var obj: [String: Any] = ["epoch": epoch, "iter": iter, "total_iters": totalIters, "lr": lr, "time": time, "data": data]
        for (k, v) in zip(losses.names, losses.values) { obj[k] = Double(v) }
        let json = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        append(line + "\n", to: "loss_log.txt")
        append(json + "\n", to: "loss_log.jsonl")
        queue.async { self.history.append((totalIters, losses.values)) }
    }

    /// Saves the visuals (already on the host) as web/images/epoch%03d_<name>.png and
    /// rewrites the page.
    public func display(epoch: Int, totalIters: Int, visuals: [(String, [Float], [Int])]) {
        guard writeHTML else { return }
        queue.async {
            let label = String(format: "epoch%03d", epoch)
            for (name, values, shape) in visuals {
                try? ImageIO.savePNG(imageFromCHW(values, shape: shape), to: "\(self.webDirectory)/images/\(label)_\(name).png")
            }
            let names = visuals.map { $0.0 }
            if let i = self.displays.firstIndex(where: { $0.0 == label }) { self.displays[i] = (label, names) } else { self.displays.append((label, names)) }
            self.writePage(totalIters: totalIters)
        }
    }

    /// Waits for pending writes.
    public func flush() { queue.sync {} }

    private func writePage(totalIters: Int) {
        var html = """
        <!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="30">
        <title>\(name)</title><style>body{font-family:sans-serif} img{image-rendering:pixelated;width:160px;margin:2px}
        td{text-align:center;font-size:12px}</style></head><body>
        <h1>\(name)</h1><p>\(totalIters) images trained. Losses:</p>
        <img src="loss_plot.svg" style="width:720px;image-rendering:auto">

        """
        for (label, names) in displays.reversed() {
            html += "<h3>\(label)</h3><table><tr>"
            for n in names { html += "<td><img src=\"images/\(label)_\(n).png\"><br>\(n)</td>" }
            html += "</tr></table>\n"
        }
        html += "</body></html>\n"
        try? writeAtomically(Data(plotSVG().utf8), to: webDirectory + "/loss_plot.svg")
        try? writeAtomically(Data(html.utf8), to: webDirectory + "/index.html")
    }

    /// A line chart of the losses against images trained.
    func plotSVG() -> String {
        let w = 720.0, h = 300.0, left = 40.0, bottom = 20.0
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h + 40))\" font-family=\"sans-serif\" font-size=\"11\">"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
        guard history.count >= 1 else { return svg + "<text x=\"10\" y=\"20\">no losses logged yet</text></svg>" }
        let xs = history.map { Double($0.0) }
        let maxY = max(0.1, history.flatMap { $0.1 }.filter { $0.isFinite }.map(Double.init).max() ?? 1)
        let x0 = xs.min()!, x1 = max(xs.max()!, x0 + 1)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (w - left - 10) }
        func py(_ y: Double) -> Double { h - bottom - y / maxY * (h - bottom - 10) }
        svg += "<line x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w - 10)\" y2=\"\(h - bottom)\" stroke=\"black\"/>"
        svg += "<line x1=\"\(left)\" y1=\"10\" x2=\"\(left)\" y2=\"\(h - bottom)\" stroke=\"black\"/>"
        svg += "<text x=\"2\" y=\"14\">\(String(format: "%.2f", maxY))</text><text x=\"2\" y=\"\(h - bottom)\">0</text>"
        svg += "<text x=\"\(left)\" y=\"\(h - 4)\">\(Int(x0))</text><text x=\"\(w - 80)\" y=\"\(h - 4)\">\(Int(x1)) images</text>"
        for (k, name) in lossNames.enumerated() {
            let pts = history.map { String(format: "%.1f,%.1f", px(Double($0.0)), py(Double($0.1[k].isFinite ? $0.1[k] : 0))) }
            svg += "<polyline fill=\"none\" stroke=\"\(colors[k])\" stroke-width=\"1.2\" points=\"\(pts.joined(separator: " "))\"/>"
            svg += "<text x=\"\(left + Double(k) * 85)\" y=\"\(h + 30)\" fill=\"\(colors[k])\">\(name)</text>"
        }
        return svg + "</svg>"
    }
}
