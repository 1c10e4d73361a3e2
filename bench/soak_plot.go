package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// plotSoak draws the gateway's allocated heap, heap goal and RSS over the
// soak (MiB against minutes), the two windows the memory bar compares,
// and a mark at each key publication, to a PNG file at path.
func plotSoak(path, title string, points []soakPoint, rotations []time.Duration, v memVerdict) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "minutes since the load started"
	p.Y.Label.Text = "MiB"
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true

	heap := make(plotter.XYs, len(points))
	goal := make(plotter.XYs, len(points))
	rss := make(plotter.XYs, 0, len(points))
	top := 0.0
	for i, pt := range points {
		x := pt.at.Minutes()
		heap[i] = plotter.XY{X: x, Y: pt.heap / (1 << 20)}
		goal[i] = plotter.XY{X: x, Y: pt.goal / (1 << 20)}
		top = max(top, heap[i].Y, goal[i].Y)
		if pt.rss > 0 {
			rss = append(rss, plotter.XY{X: x, Y: pt.rss / (1 << 20)})
			top = max(top, pt.rss/(1<<20))
		}
	}
	top *= 1.8 // room for the legend above the lines
	p.Y.Max = top
	if end := points[len(points)-1].at; end <= 30*time.Minute {
		var ticks []plot.Tick
		for m := time.Duration(0); m <= end; m += time.Minute {
			ticks = append(ticks, plot.Tick{Value: m.Minutes(), Label: fmt.Sprint(int(m.Minutes()))})
		}
		if len(ticks) > 1 {
			p.X.Tick.Marker = plot.ConstantTicks(ticks)
		}
	}

	line := func(xys plotter.XYs, c color.Color, width vg.Length, dashes []vg.Length) (*plotter.Line, error) {
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width, l.Dashes = c, width, dashes
		p.Add(l)
		return l, nil
	}
	blue := color.RGBA{R: 31, G: 119, B: 180, A: 255}
	orange := color.RGBA{R: 255, G: 127, B: 14, A: 255}
	gray := color.RGBA{R: 150, G: 150, B: 150, A: 255}
	green := color.RGBA{R: 44, G: 160, B: 44, A: 255}

	l, err := line(heap, blue, vg.Points(1), nil)
	if err != nil {
		return fmt.Errorf("plotting the heap: %w", err)
	}
	p.Legend.Add("allocated heap (go_memstats_heap_alloc_bytes, every second)", l)
	purple := color.RGBA{R: 148, G: 103, B: 189, A: 255}
	if l, err = line(goal, purple, vg.Points(1.5), nil); err != nil {
		return fmt.Errorf("plotting the heap goal: %w", err)
	}
	p.Legend.Add("heap goal (go_memstats_next_gc_bytes)", l)
	if len(rss) > 0 {
		l, err := line(rss, orange, vg.Points(1.5), nil)
		if err != nil {
			return fmt.Errorf("plotting the RSS: %w", err)
		}
		p.Legend.Add("RSS (VmRSS)", l)
	}
	// The compared windows, as bars at the mean heap goal of each.
	for i, w := range [][2]time.Duration{{v.warm, v.warm + v.win}, {points[len(points)-1].at - v.win, points[len(points)-1].at}} {
		y := []float64{v.baseGoal, v.endGoal}[i] / (1 << 20)
		if y <= 0 {
			continue
		}
		l, err := line(plotter.XYs{{X: w[0].Minutes(), Y: y}, {X: w[1].Minutes(), Y: y}}, green, vg.Points(3), nil)
		if err != nil {
			return err
		}
		if i == 0 {
			p.Legend.Add("mean heap goal of the compared windows", l)
		}
	}
	for i, r := range rotations {
		l, err := line(plotter.XYs{{X: r.Minutes(), Y: 0}, {X: r.Minutes(), Y: top}}, gray, vg.Points(0.5), []vg.Length{vg.Points(3), vg.Points(3)})
		if err != nil {
			return err
		}
		if i == 0 {
			p.Legend.Add("new key published", l)
		}
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := p.Save(9*vg.Inch, 4.5*vg.Inch, path); err != nil {
		return fmt.Errorf("saving the plot: %w", err)
	}
	return nil
}
