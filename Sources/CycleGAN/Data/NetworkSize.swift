/// The image sides the networks accept, derived from their layers (Sources/CycleGAN/NN), so
/// that an image the networks cannot take is refused with a message before it reaches them.
///
/// A k×k convolution with stride s and zero padding p takes a side n to ⌊(n + 2p − k)/s⌋ + 1,
/// which must be at least 1; reflect padding p (PyTorch's ReflectionPad2d) needs n > p.
public enum NetworkSize {
    /// The ResNet generator's sides must be multiples of 4: two stride-2 3×3 convolutions
    /// (padding 1) take n to ⌈n/2⌉ then ⌈n/4⌉, and the two stride-2 transposed convolutions
    /// (output padding 1) double that back, which gives n again only when 4 divides it.
    public static let generatorMultiple = 4

    /// The ResNet generator's smallest side, 8: its first 7×7 convolution reflect-pads 3
    /// (n ≥ 4), and after the two downsamplings the residual blocks' 3×3 convolutions
    /// reflect-pad 1 (n/4 ≥ 2).
    public static let generatorMinimum = 8

    /// The discriminator's smallest side. The n-layer PatchGAN (`basic` is 3 layers) has n
    /// stride-2 4×4 convolutions with padding 1 (n ↦ ⌊n/2⌋), then two stride-1 4×4 ones with
    /// padding 1 (n ↦ n − 1 each): ⌊side/2ⁿ⌋ − 2 ≥ 1, so side ≥ 3·2ⁿ (24 for `basic`). The
    /// pixel discriminator's 1×1 convolutions take any side.
    public static func discriminatorMinimum(netD: String, nLayers: Int) -> Int {
        switch netD {
        case "pixel": return 1
        case "basic": return 3 << 3
        default: return 3 << min(max(nLayers, 0), 32)
        }
    }

    /// The smallest side a training image may reach the networks with (both networks see
    /// it: the discriminators judge the generators' outputs, of the same size), a multiple
    /// of `generatorMultiple`.
    public static func trainingMinimum(netG: String = "resnet_9blocks", netD: String, nLayers: Int) -> Int {
        let m = multiple(netG: netG)
        let side = max(minimum(netG: netG), discriminatorMinimum(netD: netD, nLayers: nLayers))
        return (side + m - 1) / m * m
    }

    /// The side an image of `side` pixels is padded to for the generator at test time: the
    /// next multiple of the generator's multiple, at least its minimum.
    public static func generatorInput(_ side: Int, netG: String = "resnet_9blocks") -> Int {
        let m = multiple(netG: netG)
        return max(minimum(netG: netG), (side + m - 1) / m * m)
    }

    /// The U-Net's downsamplings (`unet_256`: 8, `unet_128`: 7), nil for the ResNets.
    public static func unetDowns(_ netG: String) -> Int? {
        switch netG {
        case "unet_256": return 8
        case "unet_128": return 7
        default: return nil
        }
    }

    /// What the sides of `netG`'s input must be multiples of: 4 for the ResNets; 2^num_downs
    /// for a U-Net, whose stride-2 4×4 convolutions (padding 1) halve exactly only even sides
    /// and whose innermost level is then 1×1 at the least.
    public static func multiple(netG: String) -> Int { unetDowns(netG).map { 1 << $0 } ?? generatorMultiple }

    /// `netG`'s smallest side: 8 for the ResNets, 2^num_downs for a U-Net.
    public static func minimum(netG: String) -> Int { unetDowns(netG).map { 1 << $0 } ?? generatorMinimum }
}
