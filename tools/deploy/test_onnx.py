# Copyright (c) mmacs contributors. All rights reserved.
"""COCO evaluation of an exported detector with onnxruntime.

Usage: python tools/deploy/test_onnx.py CONFIG CHECKPOINT ONNX [--pytorch]
       [--out-json FILE] [--max-batches N] [--cfg-options k=v ...]

Each test batch goes through the model's data preprocessor, then through
the ONNX graph on onnxruntime (CPU); its per-level class and box maps go to
the head's own ``predict_by_feat`` (decoding, score threshold, NMS, rescale
to the original image) and mmdet's ``CocoMetric`` from the config's
``test_evaluator``. An end-to-end graph (``export_onnx.py --end2end``)
does its own decoding and NMS; only the rescale runs outside.
``--pytorch`` evaluates the PyTorch fake-quant student on the same batches
too and reports the differences of the metrics.
"""
import argparse
import json
import time

import torch
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner

import mmacs  # noqa: F401  (registers modules, safe checkpoint loading)
from mmacs.deploy import (load_qat_config, load_qat_model, onnx_session,
                          run_onnx)
from mmacs.engine.cli import add_cfg_options


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='COCO evaluation of an exported detector (onnxruntime)')
    parser.add_argument('config', help='the QAT config')
    parser.add_argument('checkpoint', help='the QAT checkpoint it exports')
    parser.add_argument('onnx', help='the exported .onnx file')
    parser.add_argument(
        '--pytorch',
        action='store_true',
        help='also evaluate the PyTorch student and compare')
    parser.add_argument(
        '--max-batches', type=int, help='evaluate only the first N batches')
    parser.add_argument('--out-json', help='write the metrics here')
    add_cfg_options(parser)
    args = parser.parse_args(argv)
    if args.max_batches is not None and args.max_batches < 1:
        parser.error(f'--max-batches must be >= 1, got {args.max_batches}')
    return args


class OnnxDetector:
    """Predicts like ``student.predict``, with the dense head's forward
    replaced by the ONNX graph on onnxruntime."""

    def __init__(self, model, onnx_file: str) -> None:
        if model.task != 'detection':
            raise TypeError('test_onnx.py evaluates detectors; the config '
                            f'builds a {model.task} model')
        self.detector = model.student
        self.session = onnx_session(onnx_file)
        names = [o.name for o in self.session.get_outputs()]
        levels = len(names) // 2
        expected = [f'cls_score_{i}' for i in range(levels)] + \
            [f'bbox_pred_{i}' for i in range(levels)]
        if names != expected:
            raise ValueError(f'{onnx_file!r} is not a dense detector export:'
                             f' outputs {names}, expected {expected}')
        self.levels = levels

    @torch.no_grad()
    def __call__(self, inputs, data_samples):
        outs = run_onnx(self.session, inputs)
        device = inputs.device
        cls_scores = [t.to(device) for t in outs[:self.levels]]
        bbox_preds = [t.to(device) for t in outs[self.levels:]]
        results = self.detector.bbox_head.predict_by_feat(
            cls_scores,
            bbox_preds,
            batch_img_metas=[s.metainfo for s in data_samples],
            rescale=True)
        return self.detector.add_pred_to_datasample(data_samples, results)


class End2EndOnnxDetector:
    """Predicts with an end-to-end graph (``export_onnx.py --end2end``:
    decoding and NMS inside), image by image; the boxes are scaled back to
    the original image as ``predict(rescale=True)`` does."""

    def __init__(self, onnx_file: str) -> None:
        self.session = onnx_session(onnx_file)
        self.shape = tuple(self.session.get_inputs()[0].shape[2:])

    @torch.no_grad()
    def __call__(self, inputs, data_samples):
        from mmengine.structures import InstanceData
        if tuple(inputs.shape[2:]) != self.shape:
            raise ValueError(
                f'the end2end graph takes {self.shape} inputs, the batch is '
                f'{tuple(inputs.shape[2:])}: export it at this size')
        for image, sample in zip(inputs, data_samples):
            boxes, scores, labels = run_onnx(self.session, image[None])
            scale = boxes.new_tensor(sample.metainfo['scale_factor'])
            sample.pred_instances = InstanceData(
                bboxes=boxes / scale.repeat(2), scores=scores, labels=labels)
        return data_samples


def onnx_detector(model, onnx_file: str):
    """The predictor for ``onnx_file``: end-to-end or dense."""
    from mmacs.deploy import END2END_OUTPUTS
    names = [o.name for o in onnx_session(onnx_file).get_outputs()]
    if tuple(names) == END2END_OUTPUTS:
        return End2EndOnnxDetector(onnx_file)
    return OnnxDetector(model, onnx_file)


def pytorch_detector(model):
    """The PyTorch student's ``predict`` (as the Runner's test loop)."""

    @torch.no_grad()
    def predict(inputs, data_samples):
        return model.student.predict(inputs, data_samples, rescale=True)

    return predict


def evaluate(cfg, model, predictors: dict,
             max_batches: int = None) -> dict:
    """COCO metrics of each predictor on the config's test set.

    Args:
        cfg (Config): The QAT config (``test_dataloader``,
            ``test_evaluator``).
        model (QATModel): For its data preprocessor.
        predictors (dict): name -> ``fn(inputs, data_samples)`` returning
            data samples with ``pred_instances``.
        max_batches (int, optional): Stop after this many batches.
            Defaults to None (the whole set).

    Returns:
        dict: name -> metrics (and ``seconds``).
    """
    loader = Runner.build_dataloader(cfg.test_dataloader)
    evaluators, seconds = {}, {}
    for name in predictors:
        evaluators[name] = Evaluator(cfg.test_evaluator)
        evaluators[name].dataset_meta = loader.dataset.metainfo
        seconds[name] = 0.0
    size = 0
    for i, batch in enumerate(loader):
        if max_batches is not None and i == max_batches:
            break
        data = model.data_preprocessor(batch, False)
        size += len(data['data_samples'])
        for name, predict in predictors.items():
            samples = [s.clone() for s in data['data_samples']]
            start = time.perf_counter()
            samples = predict(data['inputs'], samples)
            seconds[name] += time.perf_counter() - start
            evaluators[name].process(data_samples=samples, data_batch=batch)
    if max_batches is None:
        size = len(loader.dataset)
    results = {}
    for name, evaluator in evaluators.items():
        metrics = evaluator.evaluate(size)
        results[name] = {k: float(v) for k, v in metrics.items()}
        results[name]['seconds'] = seconds[name]
    return results


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_qat_config(args.config, args.cfg_options)
    model = load_qat_model(cfg, args.checkpoint)
    predictors = dict(onnx=onnx_detector(model, args.onnx))
    if args.pytorch:
        predictors['pytorch'] = pytorch_detector(model)
    if args.max_batches is not None:
        # CocoMetric scores the images it was given (img_id).
        print(f'evaluating the first {args.max_batches} batches only')
    results = evaluate(cfg, model, predictors, args.max_batches)
    for name, metrics in results.items():
        print(f'{name}: ' + ', '.join(f'{k} {v:.4f}'
                                      for k, v in metrics.items()))
    if args.pytorch:
        results['difference'] = {
            k: results['onnx'][k] - results['pytorch'][k]
            for k in results['onnx'] if k != 'seconds'
        }
        worst = max(abs(v) for v in results['difference'].values())
        print(f'largest |onnx - pytorch| over the metrics: {worst:.4f}')
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
