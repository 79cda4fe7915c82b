"""Key leakage: the scores that say how much of the proposed scheme's nibble structure an estimate found."""

import numpy as np

from keras_lie.security.key_leakage import auc


def test_auc():
    assert auc(np.array([0.1, 0.2, 0.9, 0.8]), np.array([False, False, True, True])) == 1.0
    assert auc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([False, False, True, True])) == 0.0
    assert np.isnan(auc(np.array([0.1, 0.2]), np.array([True, True])))  # one class only: undefined
