# Copyright (c) mmacs contributors. All rights reserved.
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope

from mmacs.classification import Accuracy, ClsDataSample


def make_preds(scores, labels):
    samples = []
    for score, label in zip(scores, labels):
        s = ClsDataSample()
        s.gt_label = label
        s.pred_score = torch.tensor(score)
        s.pred_label = int(torch.tensor(score).argmax())
        samples.append(s)
    return samples


def test_accuracy_values():
    # Label ranks: 1st, 2nd, 6th, 1st.
    scores = [[.9, .1, 0, 0, 0, 0], [.5, .4, .1, 0, 0, 0],
              [.3, .2, .15, .14, .11, .1], [0, 0, 0, 0, .2, .8]]
    labels = [0, 1, 5, 5]
    with DefaultScope.overwrite_default_scope('mmdet'):
        evaluator = Evaluator(dict(type='Accuracy', topk=(1, 2, 5)))
    evaluator.process(make_preds(scores, labels))
    result = evaluator.evaluate(4)
    assert result == {
        'accuracy/top1': 50.0,
        'accuracy/top2': 75.0,
        'accuracy/top5': 75.0
    }


def test_accuracy_fewer_classes_than_k():
    metric = Accuracy()
    metric.process(None, make_preds([[.2, .8], [.6, .4]], [1, 1]))
    assert metric.compute_metrics(metric.results) == {'top1': 50.0}
    # Dicts, as the Evaluator passes them, work the same way.
    metric = Accuracy(topk=1)
    metric.process(None, [s.to_dict() for s in make_preds([[.2, .8]], [1])])
    assert metric.compute_metrics(metric.results) == {'top1': 100.0}


@pytest.mark.parametrize('topk', [0, (1, 0), ('1', ), (), (1.5, )])
def test_accuracy_errors(topk):
    with pytest.raises(ValueError, match='topk'):
        Accuracy(topk=topk)
