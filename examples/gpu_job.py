"""A GPU function: runs on ECS with an EC2 GPU capacity provider when deployed; locally on the CPU."""

import toolkit

image = toolkit.Image.debian_slim().pip_install("torch")
app = toolkit.App("gpu-job", image=image)


@app.function(gpu="A10G", timeout=3600, retries=2)
def describe_device() -> str:
    try:
        import torch
    except ImportError:
        return "torch is not installed here"
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


@app.cls(gpu="T4")
class Embedder:
    dim: int = toolkit.parameter(default=8)

    @toolkit.enter()
    def load(self):
        self.weights = [i / self.dim for i in range(self.dim)]

    @toolkit.method()
    def embed(self, text: str) -> list:
        return [w * len(text) for w in self.weights]
