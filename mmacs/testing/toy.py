# Copyright (c) mmacs contributors. All rights reserved.
"""A tiny classification task (points in 2-D, an MLP) for fast real Runner
runs of the coreset engine: real mmengine Runner, hooks, sampler, DDP."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import DATASETS, MODELS, TRANSFORMS
from mmengine.dataset import BaseDataset
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement


@DATASETS.register_module(force=True)
class ToyPointsDataset(BaseDataset):
    """Seeded Gaussian blobs, ``num_classes`` classes, some labels noisy."""

    METAINFO = dict(classes=('a', 'b', 'c'))

    def __init__(self, num_samples=96, noise_rate=0.0, seed=0, **kwargs):
        self.num_samples = num_samples
        self.noise_rate = noise_rate
        self.seed = seed
        super().__init__(**kwargs)

    def load_data_list(self):
        g = torch.Generator().manual_seed(self.seed)
        labels = torch.arange(self.num_samples) % 3
        centers = torch.tensor([[2., 0.], [-1., 1.7], [-1., -1.7]])
        x = centers[labels] + torch.randn(self.num_samples, 2, generator=g)
        noisy = torch.rand(self.num_samples, generator=g) < self.noise_rate
        flipped = torch.where(noisy, (labels + 1) % 3, labels)
        self.noisy_indices = noisy.nonzero().flatten().tolist() \
            if self.noise_rate > 0 else None
        return [
            dict(x=x[i].tolist(), gt_label=int(flipped[i]))
            for i in range(self.num_samples)
        ]

    def get_cat_ids(self, idx):
        return [self.get_data_info(idx)['gt_label']]


@TRANSFORMS.register_module(force=True)
class PackToyInputs:

    def __init__(self, jitter=0.0):
        self.jitter = jitter

    def __call__(self, results):
        x = torch.tensor(results['x'])
        if self.jitter:
            x = x + self.jitter * torch.randn(2)
        sample = BaseDataElement(metainfo=dict(
            sample_idx=results['sample_idx']))
        sample.gt_label = torch.tensor([results['gt_label']])
        return dict(inputs=x, data_samples=sample)


@MODELS.register_module(force=True)
class ToyClassifier(BaseModel):

    def __init__(self, hidden=16, num_classes=3, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.fc1 = nn.Linear(2, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if isinstance(inputs, list):
            inputs = torch.stack(inputs)
        logits = self.fc2(F.relu(self.fc1(inputs)))
        if mode == 'tensor':
            return logits
        labels = torch.cat([s.gt_label for s in data_samples])
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, labels))
        for s, p in zip(data_samples, logits.softmax(-1)):
            s.pred_score = p
        return data_samples


def toy_cfg(work_dir, max_epochs=4, fraction=0.25, interval=1,
            policy='acs', noise_rate=0.0, batch_size=8):
    """A QAT + ACS config for the toy task."""
    import uuid

    from mmengine.config import Config
    pipeline = [dict(type='PackToyInputs')]
    dataset = dict(type='ToyPointsDataset', num_samples=96,
                   noise_rate=noise_rate, pipeline=pipeline)
    return Config(
        dict(
            default_scope='mmdet',
            runner_type='QATRunner',
            experiment_name=f'toy-{uuid.uuid4().hex[:8]}',
            model=dict(
                type='QATModel',
                model=dict(type='ToyClassifier'),
                fp_layers=(),
                weight_quant=dict(bits=4),
                act_quant=dict(bits=4),
                task='classification'),
            work_dir=str(work_dir),
            train_dataloader=dict(
                batch_size=batch_size,
                num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=True),
                collate_fn=dict(type='default_collate'),
                dataset=dataset),
            train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
            optim_wrapper=dict(
                optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
            qat=dict(calibration_batches=2),
            coreset=dict(fraction=fraction, interval=interval,
                         policy=policy, score_pipeline=pipeline),
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', interval=1),
                logger=dict(type='LoggerHook', interval=1)),
            randomness=dict(seed=0),
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            log_level='WARNING'))
