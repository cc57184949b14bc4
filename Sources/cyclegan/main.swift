import CycleGAN
print(openCLDevices().map { $0.name })
