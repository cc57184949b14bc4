import XCTest
@testable import CycleGAN

final class SafeTensorsTests: XCTestCase {
    func testRoundTripKeepsNamesShapesValuesAndMetadata() throws {
        var rng = TestRNG(5)
        let file = SafeTensorsFile(tensors: ["model.1.weight": HostTensor(shape: [2, 3, 1, 1], values: rng.array(6)),
                                             "model.1.bias": HostTensor(shape: [2], values: rng.array(2)),
                                             "scalar": HostTensor(shape: [], values: [3.5])],
                                   metadata: ["step": "12"])
        let path = NSTemporaryDirectory() + "/roundtrip-\(getpid()).safetensors"
        try file.write(to: path)
        let back = try SafeTensorsFile(contentsOf: path)
        XCTAssertEqual(back.tensors, file.tensors)
        XCTAssertEqual(back.metadata, file.metadata)
        try? FileManager.default.removeItem(atPath: path)
    }

    func testReadsTheFixture() {
        XCTAssertEqual(Fixture.tensors.tensors["op/l1/x"]?.shape, [2, 3, 6, 6])
        XCTAssertEqual(Fixture.tensors.metadata["torch"], "2.15.0+cu132")
    }

    func testMalformedFileGivesAnErrorNamingIt() {
        let path = NSTemporaryDirectory() + "/bad-\(getpid()).safetensors"
        FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3, 4, 5, 6, 7, 8, 9]))
        XCTAssertThrowsError(try SafeTensorsFile(contentsOf: path)) { e in
            XCTAssertTrue("\(e)".contains(path), "\(e)")
        }
        try? FileManager.default.removeItem(atPath: path)
    }
}
