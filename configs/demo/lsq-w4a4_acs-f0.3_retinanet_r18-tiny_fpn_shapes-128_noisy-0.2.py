# The ACS demo config with the boxes of 20% of the training images
# corrupted (class flips, dropped and jittered boxes; NoisyDetDataset): the
# coreset log then reports the noisy fraction of every coreset.
_base_ = './lsq-w4a4_acs-f0.3_retinanet_r18-tiny_fpn_shapes-128.py'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='NoisyDetDataset',
        dataset={{_base_.train_dataloader.dataset}},
        noise_rate=0.2,
        seed=0,
        class_flip=0.5,
        drop_box=0.25,
        jitter_box=0.25))
