// Loupe ANE helper: embeds token ids with Core ML (compute units CPU + Neural Engine) and
// speaks JSON lines over stdio. One request per line in, one response per line out, in order.
//
// Requests                                     Responses (always with "id" and "ok")
//   {"id":1,"op":"hello"}                        {"helper":"loupe-ane","protocol":1,"standIn":false,"os":"…","computeUnits":"cpuAndNeuralEngine"}
//   {"id":2,"op":"load","dir":"/…/coreml"}       {"buckets":[64,128,256],"batch":8,"dims":384,"loadMs":…}
//   {"id":3,"op":"embed","ids":[[101,…,102],…]}  {"count":n,"dims":384,"vectors":"<base64 of n×dims little-endian float32>","buckets":[64],"ms":…}
//   {"id":4,"op":"plan"}                         {"devices":{"neuralEngine":n,"gpu":n,"cpu":n,"unknown":n},"bucket":64}   (macOS 14.4+)
//   {"id":5,"op":"quit"}                         {} and exit 0
// Errors: {"id":…,"ok":false,"error":"…"}. A line that is not JSON gets id -1.
//
// The models come from native/ane/convert_coreml.py: one .mlpackage per sequence bucket with
// fixed inputs input_ids/attention_mask int32 [batch, S] and output embedding fp32 [batch, dims].
import CoreML
import Foundation

struct Bucket {
    let seq: Int
    let model: MLModel
}

final class Helper {
    var buckets: [Bucket] = []
    var batch = 8
    var dims = 384
    var dir: URL?

    func hello() -> [String: Any] {
        let v = ProcessInfo.processInfo.operatingSystemVersion
        return ["helper": "loupe-ane", "protocol": 1, "standIn": false,
                "os": "macOS \(v.majorVersion).\(v.minorVersion).\(v.patchVersion)",
                "computeUnits": "cpuAndNeuralEngine"]
    }

    func load(_ path: String) throws -> [String: Any] {
        let t0 = Date()
        let base = URL(fileURLWithPath: path)
        let data = try Data(contentsOf: base.appendingPathComponent("manifest.json"))
        guard let manifest = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let list = manifest["buckets"] as? [[String: Any]] else { throw HelperError("manifest.json: no buckets") }
        batch = manifest["batch"] as? Int ?? 8
        dims = manifest["hidden"] as? Int ?? 384
        let config = MLModelConfiguration()
        config.computeUnits = .cpuAndNeuralEngine
        var loaded: [Bucket] = []
        for b in list {
            guard let seq = b["seq"] as? Int, let pkg = b["package"] as? String else { continue }
            // .mlpackage must be compiled to .mlmodelc once; Core ML caches nothing across runs here,
            // so compile into the package folder's sibling and reuse it.
            let src = base.appendingPathComponent(pkg)
            let compiled = base.appendingPathComponent(pkg.replacingOccurrences(of: ".mlpackage", with: ".mlmodelc"))
            if !FileManager.default.fileExists(atPath: compiled.path) {
                let tmp = try MLModel.compileModel(at: src)
                try? FileManager.default.removeItem(at: compiled)
                try FileManager.default.moveItem(at: tmp, to: compiled)
            }
            loaded.append(Bucket(seq: seq, model: try MLModel(contentsOf: compiled, configuration: config)))
        }
        guard !loaded.isEmpty else { throw HelperError("no usable buckets in \(path)") }
        buckets = loaded.sorted { $0.seq < $1.seq }
        dir = base
        return ["buckets": buckets.map { $0.seq }, "batch": batch, "dims": dims, "loadMs": Date().timeIntervalSince(t0) * 1000]
    }

    func embed(_ ids: [[Int]]) throws -> [String: Any] {
        guard !buckets.isEmpty else { throw HelperError("no model loaded: send load first") }
        let t0 = Date()
        var out = [Float](repeating: 0, count: ids.count * dims)
        var used: [Int] = []
        var start = 0
        while start < ids.count {
            let group = Array(ids[start..<min(start + batch, ids.count)])
            let longest = group.map { $0.count }.max() ?? 1
            guard let bucket = buckets.first(where: { $0.seq >= longest }) else {
                throw HelperError("input of \(longest) tokens exceeds the largest bucket \(buckets.last!.seq)")
            }
            used.append(bucket.seq)
            let shape = [NSNumber(value: batch), NSNumber(value: bucket.seq)]
            let inputIds = try MLMultiArray(shape: shape, dataType: .int32)
            let mask = try MLMultiArray(shape: shape, dataType: .int32)
            for i in 0..<(batch * bucket.seq) { inputIds[i] = 0; mask[i] = 0 }
            for (r, row) in group.enumerated() {
                for (c, tok) in row.enumerated() {
                    inputIds[r * bucket.seq + c] = NSNumber(value: tok)
                    mask[r * bucket.seq + c] = 1
                }
            }
            let features = try MLDictionaryFeatureProvider(dictionary: ["input_ids": inputIds, "attention_mask": mask])
            let result = try bucket.model.prediction(from: features)
            guard let emb = result.featureValue(for: "embedding")?.multiArrayValue else { throw HelperError("model has no embedding output") }
            for r in 0..<group.count {
                for d in 0..<dims { out[(start + r) * dims + d] = emb[r * dims + d].floatValue }
            }
            start += group.count
        }
        let bytes = out.withUnsafeBufferPointer { Data(buffer: $0) }
        return ["count": ids.count, "dims": dims, "vectors": bytes.base64EncodedString(), "buckets": used,
                "ms": Date().timeIntervalSince(t0) * 1000]
    }

    /// Where Core ML placed each op (MLComputePlan, macOS 14.4+): the proof the ANE is used.
    func plan() async throws -> [String: Any] {
        guard let dir, let first = buckets.first else { throw HelperError("no model loaded") }
        if #available(macOS 14.4, *) {
            let config = MLModelConfiguration()
            config.computeUnits = .cpuAndNeuralEngine
            var counts: [String: Int] = ["neuralEngine": 0, "gpu": 0, "cpu": 0, "unknown": 0]
            let compiled = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
                .first { $0.pathExtension == "mlmodelc" && $0.lastPathComponent.contains("-s\(first.seq).") }
            guard let compiled else { throw HelperError("compiled model for bucket \(first.seq) not found") }
            let plan = try await MLComputePlan.load(contentsOf: compiled, configuration: config)
            guard case let .program(program) = plan.modelStructure, let main = program.functions["main"] else {
                throw HelperError("not an ML program")
            }
            for op in main.block.operations {
                guard let usage = plan.deviceUsage(for: op) else { continue }
                switch usage.preferred {
                case .neuralEngine: counts["neuralEngine", default: 0] += 1
                case .gpu: counts["gpu", default: 0] += 1
                case .cpu: counts["cpu", default: 0] += 1
                @unknown default: counts["unknown", default: 0] += 1
                }
            }
            return ["devices": counts, "bucket": first.seq]
        }
        throw HelperError("MLComputePlan needs macOS 14.4 or later")
    }
}

struct HelperError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func reply(_ obj: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: obj), let s = String(data: data, encoding: .utf8) {
        FileHandle.standardOutput.write((s + "\n").data(using: .utf8)!)
    }
}

let helper = Helper()
while let line = readLine(strippingNewline: true) {
    if line.isEmpty { continue }
    guard let data = line.data(using: .utf8),
          let req = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        reply(["id": -1, "ok": false, "error": "not a JSON object"])
        continue
    }
    let id = req["id"] ?? -1
    let op = req["op"] as? String ?? ""
    do {
        var res: [String: Any]
        switch op {
        case "hello": res = helper.hello()
        case "load":
            guard let dir = req["dir"] as? String else { throw HelperError("load needs dir") }
            res = try helper.load(dir)
        case "embed":
            guard let ids = req["ids"] as? [[Int]] else { throw HelperError("embed needs ids: [[Int]]") }
            res = try helper.embed(ids)
        case "plan":
            let sem = DispatchSemaphore(value: 0)
            var out: Result<[String: Any], Error> = .failure(HelperError("plan did not finish"))
            Task { do { out = .success(try await helper.plan()) } catch { out = .failure(error) }; sem.signal() }
            sem.wait()
            res = try out.get()
        case "quit":
            reply(["id": id, "ok": true])
            exit(0)
        default: throw HelperError("unknown op \(op)")
        }
        res["id"] = id
        res["ok"] = true
        reply(res)
    } catch {
        reply(["id": id, "ok": false, "error": "\(error)"])
    }
}
