"""Cell 2 of the notebook (AMAL, notebook 1), with the imports of cell 1 it needs."""

import torch
from torch.autograd import Function

# ///////////////////////////////////////////////////////////////////// <getting started with linear regression> ////

class Context:
    # A basic object to simulate automated PyTorch-powered executions
    # A new context must be created at *every* run
    def __init__(self):
        self._saved_tensors = ()
    def save_for_backward(self, *args):
        self._saved_tensors = args
    @property
    def saved_tensors(self):
        return self._saved_tensors

    
class MSE(Function):
    # A Mean-Squared-Error loss function 
    @staticmethod
    def forward(ctx,yhat,y):
        # Saving data for the backprop
        ctx.save_for_backward(yhat, y)
        # Using the formula
        diff = torch.sum(torch.pow(y-yhat,2)) / y.nelement()
        # Verifying the shapes
        assert(diff.shape == ())
        assert(y.shape == yhat.shape)
        return diff
    
    @staticmethod
    def backward(ctx,grad_output):
        # Retrieving past events from the current context
        yhat,y = ctx.saved_tensors
        # Computing the gradient of the loss wrt/ each variable
        Ly = 2*(y-yhat)*grad_output / y.nelement()
        Lyhat = -Ly
        # Verifying the shapes
        assert(y.shape == yhat.shape)
        assert(Ly.shape == y.shape)
        assert(Lyhat.shape == yhat.shape)
        return Lyhat, Ly
        
        
class Linear(Function):
    @staticmethod
    def forward(ctx,X,W,b):
        # Saving data for the backprop
        ctx.save_for_backward(X,W,b)
        # Verifying the shapes
        assert(X.shape[1] == W.shape[0])
        assert((X@W).shape[1] == b.shape[1])
        # Applying a linear transformation
        return X @ W + b
    
    @staticmethod 
    def backward(ctx,grad_output):  
        # Retrieving past events from the current context
        X,W,b = ctx.saved_tensors
        # Computing the gradient of the loss wrt/ each variable
        Lx = grad_output @ W.t()
        Lw = X.t() @ grad_output
        Lb = grad_output.sum(0).view(1,-1)
        # Verifying the shapes
        assert(X.shape[1] == W.shape[0])
        assert(Lw.shape == W.shape)
        assert(Lx.shape == X.shape)
        assert(Lb.shape == b.shape)
        return Lx, Lw, Lb  

# //////////////////////////////////////////////////////////////////// </getting started with linear regression> ////

