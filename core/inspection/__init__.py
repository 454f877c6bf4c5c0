"""Looking inside a trained model, never changing it: every view builds sub-models that share its weights.

- ``layers``: convolution layers, their filters, and every layer's activations for one image
  (one cached ``tf.function`` per model).
- ``predict``: class probabilities and the top classes.
- ``novelty``: whether a picture looks unlike the images a model was made for (confidence and
  feature checks, calibrated on its own data and kept in its card).
- ``arithmetic``: one output value of a convolution or pooling layer, computed by hand;
  ``arithmetic_layers``: the same for depthwise and pointwise convolutions and batch normalization.
- ``explain``: Grad-CAM, saliency, SmoothGrad and occlusion maps.
- ``featurevis``: what one filter responds to (activation maximisation, top images).
- ``embedding``: the penultimate layer's features in 2-D, and nearest neighbours.
- ``evaluation``: confusion matrix, per-class accuracy and the most confident mistakes.
"""
