"""Run by torchrun with two CPU processes (gloo): two LDM training steps under Lightning DDP,
then each rank writes its weights for the test to compare."""

import sys
from pathlib import Path

import lightning as L
import torch
from safetensors.torch import save_file

from msgld.config import load_config
from msgld.training.ldm_module import LDMModule
from msgld.training.trainer import RunOptions, build_trainer

cache, out = Path(sys.argv[1]), Path(sys.argv[2])
config = load_config("ldm", "tiny", {
    "model": {"channels": 8, "channel_mult": [1, 2], "attention_levels": [1], "head_dim": 8, "norm_groups": 4},
    "data": {"latent_frames": 32},
})
opts = RunOptions(out=out, max_steps=2, batch_size=2, accelerator="cpu", devices=2, strategy="ddp",
                  progress=False, val_every=1000, checkpoint_every=1000)
L.seed_everything(int(torch.distributed.get_rank() if torch.distributed.is_initialized() else 0) + 1)
module = LDMModule(config)  # seeded differently per rank: DDP must broadcast rank 0's weights
train_loader, _ = module.build_loaders(cache, opts)
trainer = build_trainer(opts)
trainer.fit(module, train_loader)
state = {k: v.detach().contiguous() for k, v in module.net.state_dict().items()}
save_file(state, str(out / f"rank{trainer.global_rank}.safetensors"))
print(f"rank {trainer.global_rank} step {trainer.global_step} world {trainer.world_size}")
